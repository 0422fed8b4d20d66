#!/usr/bin/env bash
# The Maven benchmark (docs/PERFORMANCE.md): the sample app of examples/maven-sample baked by `mvn package` with
# kiln:bake bound to package, against `mvn package jib:buildTar` of the same app over the same JRE base, both
# writing a docker-archive tarball. Each round copies the sample afresh and times, for each tool, a cold build
# (empty Kiln store / empty Jib caches, compile included) and a build after one class changed. The tools alternate
# which goes first round by round; the script prints every round and the medians.
#
#   scripts/bench-maven.sh [ROUNDS]        # default 3
#
# Offline: the plugin and Kiln's jars are installed into maven-plugin/target/it-repo (never ~/.m2) and everything
# else is linked from ~/.m2 (or $MAVEN_REPO), which must already hold jib-maven-plugin (one online `mvn dependency:get
# -Dartifact=com.google.cloud.tools:jib-maven-plugin:3.5.1` fetches it). Needs docker (to turn the JRE root file
# system into the docker-archive base Jib reads), jlink and busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
root=$PWD
m2="${MAVEN_REPO:-$HOME/.m2/repository}"
work=$(mktemp -d /tmp/kiln-maven-bench.XXXXXX)
base_tag="kiln-maven-bench-jre-$$:1"
trap 'rm -rf "$work"; docker rmi -f "$base_tag" >/dev/null 2>&1 || true' EXIT

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
mvn -B -ntp -q -o -Dstyle.color=never -pl maven-plugin -am verify -DskipTests >/dev/null
repo="$work/repo"
mkdir -p "$repo"
cp -al maven-plugin/target/it-repo/. "$repo/"
(cd "$m2" && find . -path ./dev/kiln -prune -o -type f \( -name '*.jar' -o -name '*.pom' \) -print0 \
  | xargs -0 cp --parents -ln -t "$repo")
(cd "$m2" && find . -path ./dev/kiln -prune -o -type f ! -name '*.jar' ! -name '*.pom' -print0 \
  | xargs -0 cp --parents -n -t "$repo")

jre=$(scripts/docker/jre-rootfs.sh)
docker import "$jre" "$base_tag" >/dev/null
docker save -o "$work/jre-docker.tar" "$base_tag"

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

# run TOOL PROJECT: prints "cold_ms changed_ms"
run() {
  local tool=$1 proj=$2 args t0 t1 t2
  args=(-B -ntp -q -o -Dstyle.color=never -f "$proj/pom.xml" -Dmaven.repo.local="$repo" -Dkiln.sample.jre="$jre")
  if [[ $tool == kiln ]]; then
    args+=(-Dkiln.store="$proj/kiln-store"
      "-Dkiln.targets=docker-archive:$proj/app/target/kiln-image.tar:kiln-sample/app:latest" package)
  else
    args+=(-Pjib -Dkiln.skip=true -Djib.disableUpdateChecks=true "-Dkiln.sample.jib.base=tar://$work/jre-docker.tar"
      -Djib.applicationCache="$proj/jib-app-cache" -Djib.baseImageCache="$proj/jib-base-cache" package jib:buildTar)
  fi
  t0=$(now)
  mvn "${args[@]}" >"$proj/cold.log" 2>&1 || { cat "$proj/cold.log" >&2; exit 1; }
  t1=$(now)
  sed -i 's/"{} ({})"/"{} [{}]"/' "$proj/app/src/main/java/sample/app/Main.java"
  mvn "${args[@]}" >"$proj/changed.log" 2>&1 || { cat "$proj/changed.log" >&2; exit 1; }
  t2=$(now)
  echo "$(ms "$t0" "$t1") $(ms "$t1" "$t2")"
}

declare -A cold changed
for r in $(seq 1 "$ROUNDS"); do
  order=(kiln jib)
  if (( r % 2 == 0 )); then order=(jib kiln); fi
  for tool in "${order[@]}"; do
    proj="$work/$tool-$r"
    mkdir -p "$proj"
    tar -C examples/maven-sample --exclude=target -cf - . | tar -C "$proj" -xf -
    read -r c w < <(run "$tool" "$proj")
    cold[$tool]+="$c "
    changed[$tool]+="$w "
    echo "round $r $tool: cold ${c} ms, one class changed ${w} ms"
  done
done

# both images print the same line
docker load -q -i "$work/kiln-1/app/target/kiln-image.tar" >/dev/null
docker load -q -i "$work/jib-1/app/target/jib-image.tar" >/dev/null
echo "kiln image: $(docker run --rm kiln-sample/app:latest)"
echo "jib image:  $(docker run --rm kiln-sample/app-jib:latest)"
docker rmi -f kiln-sample/app:latest kiln-sample/app-jib:latest >/dev/null

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo
echo "| tool | cold (median) | one class changed (median) |"
echo "| --- | --- | --- |"
for tool in jib kiln; do
  echo "| $tool | $(echo "${cold[$tool]}" | median) ms | $(echo "${changed[$tool]}" | median) ms |"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
