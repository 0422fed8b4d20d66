#!/usr/bin/env bash
# Kiln's streamOptimized VMDK writer (provider-vmware's VmdkWriter) vs `qemu-img convert -f raw -O vmdk -o
# subformat=streamOptimized` on the same raw disk: Kiln's disk of the Debian fixture (scripts/disk/debian-rootfs.sh),
# built once before the rounds; alternating rounds after a warm-up round, medians; both outputs checked with
# `qemu-img check` and `qemu-img compare` (bench/src/main/java/dev/kiln/bench/VmdkBench.java, docs/PERFORMANCE.md).
#
#   scripts/bench-vmdk.sh [ROUNDS [DISK_OR_ROOTFS]]     # defaults: 5, the Debian fixture
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
input="${2:-}"
[[ -n "$input" ]] || input="$(scripts/disk/debian-rootfs.sh)"
work=$(mktemp -d /tmp/kiln-vmdk-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
. scripts/bench-lib.sh
bench_classpath "$work"
java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.kiln.bench.VmdkBench "$input" "$work/run" "$rounds"
