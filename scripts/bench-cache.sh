#!/usr/bin/env bash
# The remote cache benchmark (issue #8, docs/PERFORMANCE.md): a cold bake on a fresh machine (empty store) with a
# warm remote cache vs the same cold bake with no remote cache, median of RUNS runs after a warm-up round, for the
# JDK-tree image, a run-layer image and an Ansible-layer image (the example's web server role over the Debian
# minbase). The remote is Debian's docker-registry on 127.0.0.1, started here with storage in the work directory.
# Needs a running dockerd (run and Ansible layers), ansible-playbook and mmdebstrap (the Debian base).
# Usage: scripts/bench-cache.sh [RUNS] [SCENARIOS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
SCENARIOS=${2:-jdk,run,ansible}
HEAP=${HEAP:--Xmx512m}
. scripts/bench-lib.sh
work=$(mktemp -d /tmp/kiln-cache-bench.XXXXXX)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
bench_classpath "$work"
cp="$BENCH_CP"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
jdk=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
java $HEAP -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$cp" dev.kiln.bench.CacheBench \
  "$work/bench" "docker://127.0.0.1:$port/bench-cache" "$RUNS" "$jdk" "$SCENARIOS"
