# Sourced by every scripts/bench-*.sh. Builds the bench module and what it depends on in one reactor (no install:
# the shared ~/.m2 is left alone) and puts a private copy of its class path under $1, in $BENCH_CP, so that another
# build cannot swap jars under a running benchmark. KILN_MVN_OFFLINE=1 builds offline; MAVEN_REPO picks a local
# repository.
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
