#!/usr/bin/env bash
# What SBOMs and provenance cost (docs/PERFORMANCE.md): a cold bake into a fresh store with
# Kiln.builder().sbom(true).provenance(true) vs the same bake without, median of RUNS runs after a warm-up round, for
# the quickstart image and the Debian minbase image (with a files layer holding a jar). Needs mmdebstrap the first time
# (scripts/docker/debian-rootfs.sh caches the Debian root file system).
# Usage: scripts/bench-sbom.sh [RUNS] [SCENARIOS]
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
java $HEAP -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.kiln.bench.SbomBench \
  "$work/bench" "$debian" "$RUNS" "$SCENARIOS"
