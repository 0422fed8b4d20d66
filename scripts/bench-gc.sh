#!/usr/bin/env bash
# The local store's garbage collection (bench/src/main/java/dev/kiln/bench/GcBench.java, docs/PERFORMANCE.md): a
# store of BLOBS blobs (images of a config and two layers, with their key entries, records and index.json entries),
# the size check of the automatic collection, a collection that removes nothing, a dry run and a collection down to
# half the store's size; medians of RUNS runs, each on a fresh copy of the store.
#
#   scripts/bench-gc.sh [BLOBS [RUNS]]     # defaults: 10000, 3
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/kiln-gc-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
. scripts/bench-lib.sh
bench_classpath "$work"
java ${HEAP:--Xmx512m} -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.kiln.bench.GcBench \
  "$work/bench" "${1:-10000}" "${2:-3}"
