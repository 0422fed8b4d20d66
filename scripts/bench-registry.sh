#!/usr/bin/env bash
# The registry benchmark (docs/PERFORMANCE.md): the same image pushed to a local docker-registry by Kiln (docker://
# target, in-process), jib-core (RegistryImage, in-process) and `docker build` + `docker push` (BuildKit), cold,
# unchanged and after one file changed, over three trees: the JDK (one layer), /usr/share/doc + /usr/share/man (one
# layer of many small files) and an app shape (the JDK, ~40 dependency jars, a small app layer that changes). Each
# tool gets a docker-registry of its own with an empty storage directory before every cold build (RegistryBench
# starts them on free loopback ports). The tools alternate round by round; one warm-up round per tree is not
# counted; medians, minimums and maximums of ROUNDS rounds, with each build's CPU time (the tool's and its
# registry's) and, after Kiln's changed bake, raw references: a curl upload of the same blob to an empty registry,
# gzip -6 (one process, and one per core on equal parts of the tar at once; pigz -6 -p 2 if installed) and sha256sum
# of its tar. Needs a running dockerd, docker-registry, skopeo, curl, gzip and sha256sum (Linux: CPU times come from
# /proc).
# Usage: scripts/bench-registry.sh [ROUNDS] [TREES]    TREES: a comma list of jdk, small, app (default all three)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
TREES=${2:-jdk,small,app}
HEAP=${HEAP:--Xmx512m}
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-1}
for tool in docker-registry skopeo docker curl gzip gunzip sha256sum getconf; do
  command -v "$tool" >/dev/null || { echo "bench-registry: $tool is missing (scripts/setup-test-env.sh)" >&2; exit 1; }
done
. scripts/bench-lib.sh
work=$(mktemp -d /tmp/kiln-registry-bench.XXXXXX)
cleanup() {
  # the registries RegistryBench started, should it have been killed before it stopped them
  if [ -f "$work/bench/registries/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$work/bench/registries/pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
bench_classpath "$work"
cp="$BENCH_CP"
bench="$work/bench"
mkdir -p "$bench"
# the trees, copied so every tool reads the same bytes; dangling symlinks removed, since Jib follows links
jdk_src=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
for t in ${TREES//,/ }; do
  ctx="$bench/ctx-$t"
  mkdir -p "$ctx"
  case "$t" in
    jdk) cp -a "$jdk_src" "$ctx/jdk" ;;
    small) mkdir -p "$ctx/files" && cp -a /usr/share/doc "$ctx/files/doc" && cp -a /usr/share/man "$ctx/files/man" ;;
    app)
      cp -a "$jdk_src" "$ctx/jdk"
      # ~40 dependency jars: every other third-party jar of the bench class path, by name
      mkdir -p "$ctx/libs"
      find "$work/lib" -maxdepth 1 -name '*.jar' ! -name 'kiln-*' -printf '%f\n' | sort | awk 'NR % 2 == 1' \
        | head -40 | while read -r jar; do cp "$work/lib/$jar" "$ctx/libs/"; done
      # the app: the bench module's classes and a configuration file
      mkdir -p "$ctx/app/config"
      cp -a "$work/lib/classes/." "$ctx/app/"
      printf 'server.port=8080\napp.name=bench\n' > "$ctx/app/config/application.properties"
      ;;
    *) echo "bench-registry: unknown tree $t (jdk, small, app)" >&2; exit 1 ;;
  esac
  find "$ctx" -xtype l -delete
done
java $HEAP -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$cp" dev.kiln.bench.RegistryBench \
  "$bench" "$ROUNDS" "$TREES"
