#!/usr/bin/env bash
# Layer writing throughput (bench/src/main/java/dev/kiln/bench/LayerBench.java): Kiln's canonical layer writer (tar
# + parallel gzip -6) over a tree, RUNS times, against `tar -cf - . | gzip -6 | sha256sum` of the same tree.
#
#   scripts/bench-layer.sh [TREE [RUNS]]     # defaults: the JDK, 3
set -euo pipefail
cd "$(dirname "$0")/.."
tree="${1:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
work=$(mktemp -d /tmp/kiln-layer-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
. scripts/bench-lib.sh
bench_classpath "$work"
java -cp "$BENCH_CP" dev.kiln.bench.LayerBench "$tree" "$work/out" "${2:-3}"
