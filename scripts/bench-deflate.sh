#!/usr/bin/env bash
# The deflate engines (bench/src/main/java/dev/kiln/bench/DeflateBench.java): the JDK's Deflater (native zlib) and
# Kiln's Java port of zlib's deflate over a tree, one thread on primed 1 MiB chunks and the parallel gzip stream on
# every core, RUNS times alternating, at LEVEL; plus the cost of the start-up check of the platform's deflater.
#
#   scripts/bench-deflate.sh [TREE [RUNS [LEVEL]]]     # defaults: the JDK, 3, 6
set -euo pipefail
cd "$(dirname "$0")/.."
tree="${1:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
work=$(mktemp -d /tmp/kiln-deflate-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
. scripts/bench-lib.sh
bench_classpath "$work"
java ${HEAP:--Xmx1g} -cp "$BENCH_CP" dev.kiln.bench.DeflateBench "$tree" "${2:-3}" "${3:-6}"
