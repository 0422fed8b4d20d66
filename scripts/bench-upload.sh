#!/usr/bin/env bash
# EBS direct upload against the loopback AWS server (bench/src/main/java/dev/kiln/bench/UploadBench.java): raw
# read speed of a 1 GiB disk, full upload throughput at concurrency 8/16/64, and the blocks an app disk (5 MB over a
# 1 GiB base) sends incrementally against a full upload (docs/PERFORMANCE.md, "EC2").
#
#   scripts/bench-upload.sh [DIR]     # needs ~3 GiB of heap (the server keeps every block) and ~2.5 GiB in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
HEAP=${HEAP:--Xmx3g}
work=$(mktemp -d /tmp/kiln-upload-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
. scripts/bench-lib.sh
bench_classpath "$work"
java $HEAP -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.kiln.bench.UploadBench "${1:-$work/disks}"
