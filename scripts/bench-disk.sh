#!/usr/bin/env bash
# Kiln's disk builder vs the shell pipeline (scripts/disk/shell-pipeline.sh) on the Debian fixture, side by side in
# one run (bench/src/main/java/dev/kiln/bench/DiskBench.java): full build, rebuild after an app-layer change, blocks
# changed (docs/PERFORMANCE.md, docs/disk.md "Benchmark").
#
#   scripts/bench-disk.sh [ROUNDS [STAGING_DIR [WORKDIR]]]     # defaults: 7, /dev/shm, a new directory under /tmp
#
# Builds or reuses the fixture (scripts/disk/debian-rootfs.sh) and prints one line per round and the medians.
# Kiln's per-step timings are logged by DiskBuilder (INFO).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
rounds="${1:-7}"
staging="${2:-/dev/shm}"
work="${3:-}"
if [[ -z "$work" ]]; then
  work="$(mktemp -d /tmp/kiln-disk-bench.XXXXXX)"
  created=1
fi
lib="$(mktemp -d /tmp/kiln-disk-bench-lib.XXXXXX)"
cleanup() {
  rm -rf "$lib"
  rm -f "$work/kiln.img" "$work/kiln-app.img" "$work/shell.img" "$work/app.tar.gz"
  if [[ -n "${created:-}" ]]; then rmdir "$work" 2>/dev/null || true; fi
}
trap cleanup EXIT
rootfs="$(scripts/disk/debian-rootfs.sh)"
. scripts/bench-lib.sh
bench_classpath "$lib"
java -Dkiln.repo="$repo" -cp "$BENCH_CP" dev.kiln.bench.DiskBench "$rootfs" "$work" "$rounds" "$staging"
