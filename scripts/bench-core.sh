#!/usr/bin/env bash
# The core benchmark (docs/PERFORMANCE.md): Kiln vs jib-core building the same one-layer image of a tree, each in
# its own JVM with the same heap limit, in-process after a warm-up build, cold (empty caches) and warm (unchanged
# tree, caches of the cold build). Kiln runs twice: "kiln" opens a new Kiln per bake (as a command-line run does),
# "kiln-open" keeps one open per store (as a build daemon or a service does), so its file-system watches persist.
# The tools alternate run by run so all see the same machine load; the medians of RUNS runs are reported. Not part of the tests.
# Usage: scripts/bench-core.sh [RUNS]     trees: the JDK, and /usr/share/doc + /usr/share/man
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
HEAP=${HEAP:--Xmx256m}
. scripts/bench-lib.sh
work=$(mktemp -d /tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bench_classpath "$work"
cp="$BENCH_CP"
# copies, so both tools read the same bytes; dangling symlinks (the JDK's src.zip) removed, since Jib follows links
jdk="$work/jdk"
cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")" "$jdk"
small="$work/small-files"
mkdir -p "$small"
cp -a /usr/share/doc "$small/doc"
cp -a /usr/share/man "$small/man"
find "$jdk" "$small" -xtype l -delete
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
for tree in "$jdk" "$small"; do
  echo "tree $tree: $(du -sh "$tree" | cut -f1), $(find "$tree" -type f | wc -l) files"
  for i in $(seq 1 "$RUNS"); do
    for tool in jib kiln kiln-open; do
      java $HEAP -cp "$cp" dev.kiln.bench.CoreBench "$tool" "$tree" "$work/$tool" 1 | grep RESULT | tee -a "$work/results"
      rm -rf "${work:?}/$tool"
    done
  done
  for tool in jib kiln kiln-open; do
    line="MEDIAN tool=$tool"
    for field in cold_median_ms warm_median_ms first_warm_median_ms peak_heap_mb; do
      vals=$(grep "tool=$tool tree=$tree " "$work/results" | grep -o " $field=[0-9]*" | cut -d= -f2 | sort -n)
      n=$(echo "$vals" | wc -l)
      line="$line ${field%_median_ms}=$(echo "$vals" | sed -n "$(( (n + 1) / 2 ))p")"
    done
    echo "$line runs=$n"
  done
done
