#!/usr/bin/env bash
# The core benchmark (docs/PERFORMANCE.md): Kiln vs jib-core building a one-layer image of the same tree, each in
# its own JVM with the same heap limit, in-process after warm-up, median of RUNS runs. Not part of the tests.
# Usage: scripts/bench-core.sh [RUNS]   (trees: the JDK, and /usr/share/doc + /usr/share/man)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
HEAP=${HEAP:--Xmx256m}
mvn -B -ntp -q -DskipTests -pl bench -am install
cp="bench/target/classes:$(mvn -B -ntp -q -pl bench dependency:build-classpath -Dmdep.outputFile=/dev/stdout)"
work=$(mktemp -d /tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# copies, so both tools read the same bytes; dangling symlinks (the JDK's src.zip) removed, since Jib follows links
jdk="$work/jdk"
cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")" "$jdk"
small="$work/small-files"
mkdir -p "$small"
cp -a /usr/share/doc "$small/doc"
cp -a /usr/share/man "$small/man"
find "$jdk" "$small" -xtype l -delete
echo "machine: $(nproc) cores, $(java -version 2>&1 | head -1)"
echo "trees: $jdk ($(du -sh "$jdk" | cut -f1), $(find "$jdk" -type f | wc -l) files); $small ($(du -sh "$small" | cut -f1), $(find "$small" -type f | wc -l) files)"
for tree in "$jdk" "$small"; do
  for tool in jib kiln; do
    java $HEAP -cp "$cp" dev.kiln.bench.CoreBench "$tool" "$tree" "$work/$tool" "$RUNS" | grep RESULT
    rm -rf "${work:?}/$tool"
  done
done
