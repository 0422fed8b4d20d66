#!/usr/bin/env bash
# The Docker benchmark (docs/PERFORMANCE.md): a 3-layer image (busybox base, a run layer, a files layer of the JDK
# tree) baked by Kiln into the Docker daemon vs `docker build` of the equivalent Dockerfile, cold and warm (after
# changing one file of the JDK tree), median of RUNS runs after one warm-up round. Needs a running dockerd.
# Usage: scripts/bench-docker.sh [RUNS]   (DOCKER_BUILDKIT=0 for the classic builder; default BuildKit)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
HEAP=${HEAP:--Xmx512m}
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1}
. scripts/bench-lib.sh
work=$(mktemp -d /tmp/kiln-docker-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
bench_classpath "$work"
cp="$BENCH_CP"
jdk=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
java $HEAP -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$cp" dev.kiln.bench.DockerBench "$work" "$RUNS" "$jdk"
