#!/usr/bin/env bash
# Kiln's disk builder vs the shell pipeline (shell-pipeline.sh) on the Debian fixture, side by side in one run
# (core/src/test/java/dev/kiln/disk/DiskBench.java): full build, rebuild after an app-layer change, blocks changed.
#
#   scripts/disk/bench.sh [ROUNDS [STAGING_DIR [WORKDIR]]]     # defaults: 7, /dev/shm, a new directory under /tmp
#
# Compiles core's test classes offline (mvn -o), builds or reuses the fixture (debian-rootfs.sh), and prints one line
# per round and the medians. Kiln's per-step timings are logged by DiskBuilder (INFO).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-7}"
staging="${2:-/dev/shm}"
work="${3:-}"
if [[ -z "$work" ]]; then
  work="$(mktemp -d /tmp/kiln-disk-bench.XXXXXX)"
  created=1
fi
cp_file="$(mktemp)"
cleanup() {
  rm -f "$cp_file" "$work/kiln.img" "$work/kiln-app.img" "$work/shell.img" "$work/app.tar.gz"
  if [[ -n "${created:-}" ]]; then rmdir "$work" 2>/dev/null || true; fi
}
trap cleanup EXIT
rootfs="$("$repo/scripts/disk/debian-rootfs.sh")"
cd "$repo"
mvn -q -o -pl core test-compile >&2
mvn -q -o -pl core dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >&2
java -Dkiln.repo="$repo" -cp "core/target/test-classes:core/target/classes:$(cat "$cp_file")" \
  dev.kiln.disk.DiskBench "$rootfs" "$work" "$rounds" "$staging"
