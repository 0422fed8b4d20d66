# Sourced by every scripts/bench-*.sh. Builds the bench module and what it depends on in one reactor (no install:
# the shared ~/.m2 is left alone) and puts a private copy of its class path under $1, in $BENCH_CP, so that another
# build cannot swap jars under a running benchmark. KILN_MVN_OFFLINE=1 builds offline; MAVEN_REPO picks a local
# repository.
# bench_dirs NAME [WORKDIR] sets $work to WORKDIR, or to a new directory /tmp/kiln-NAME-bench.XXXXXX, and $lib to a new
# directory for the class path; bench_cleanup removes $lib and the new $work once the script's own cleanup has emptied it.
MVN=(mvn -B -ntp -q -Dstyle.color=never ${KILN_MVN_OFFLINE:+-o} ${MAVEN_REPO:+-Dmaven.repo.local=$MAVEN_REPO})

bench_classpath() {
  local work="$1"
  "${MVN[@]}" -DskipTests -pl bench -am package dependency:build-classpath \
    -Dmdep.outputFile="$work/classpath" >/dev/null
  mkdir -p "$work/lib"
  cp -r bench/target/classes "$work/lib/classes"
  BENCH_CP="$work/lib/classes"
  local jar
  for jar in $(tr ':' ' ' < "$work/classpath"); do
    cp "$jar" "$work/lib/" && BENCH_CP="$BENCH_CP:$work/lib/$(basename "$jar")"
  done
}

bench_dirs() {
  work="${2:-}"
  created=
  if [[ -z "$work" ]]; then
    work="$(mktemp -d "/tmp/kiln-$1-bench.XXXXXX")"
    created=1
  fi
  lib="$(mktemp -d "/tmp/kiln-$1-bench-lib.XXXXXX")"
}

bench_cleanup() {
  rm -rf "$lib"
  if [[ -n "${created:-}" ]]; then rmdir "$work" 2>/dev/null || true; fi
}
