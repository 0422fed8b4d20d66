#!/usr/bin/env bash
# What SBOMs and provenance cost (docs/PERFORMANCE.md): a cold bake into a fresh store with
# Kiln.builder().sbom(true).provenance(true) vs the same bake without, median of RUNS runs after a warm-up round, for
# the quickstart image and the Debian minbase image (with a files layer holding a jar). Needs mmdebstrap the first time
# (scripts/docker/debian-rootfs.sh caches the Debian root file system).
# With PROCESS=1, each bake is a JVM of its own (start, class loading and first use included, as a command-line
# bake pays them), on and off alternating, RUNS pairs after one warm-up pair, timed whole, for the first scenario.
# Usage: scripts/bench-sbom.sh [RUNS] [SCENARIOS]     PROCESS=1 scripts/bench-sbom.sh [RUNS] [SCENARIO]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SCENARIOS=${2:-quickstart,debian}
HEAP=${HEAP:--Xmx512m}
. scripts/bench-lib.sh
work=$(mktemp -d /tmp/kiln-sbom-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bench_classpath "$work"
debian=$(scripts/docker/debian-rootfs.sh | tail -n 1)
run() { java $HEAP -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.kiln.bench.SbomBench \
  "$work/bench" "$debian" "$@"; }
if [[ -z "${PROCESS:-}" ]]; then
  run "$RUNS" "$SCENARIOS"
  exit
fi
scenario=${SCENARIOS%%,*}
ms() { local t0 t1; t0=$(date +%s%N); run "$1" "$scenario"; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
off=() on=() diff=()
for ((i = 0; i <= RUNS; i++)); do
  if ((i % 2 == 0)); then a=$(ms once-off); b=$(ms once-on); else b=$(ms once-on); a=$(ms once-off); fi
  echo "$scenario process $i: off ${a} ms, on ${b} ms$( ((i == 0)) && echo ' (warm-up, not counted)')"
  ((i == 0)) && continue
  off+=("$a") on+=("$b") diff+=("$((b - a))")
done
mo=$(printf '%s\n' "${off[@]}" | median) mn=$(printf '%s\n' "${on[@]}" | median)
md=$(printf '%s\n' "${diff[@]}" | median)
echo "RESULT $scenario process: a JVM that bakes once takes ${mo} ms, ${mn} ms with SBOM+provenance;" \
  "median of the pairs' own differences ${md} ms ($(awk -v d="$md" -v o="$mo" 'BEGIN {printf "%+.1f%%", 100 * d / o}')); medians of $RUNS"
