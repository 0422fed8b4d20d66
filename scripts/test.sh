#!/usr/bin/env bash
# Passes Kiln's whole test suite on a fresh machine: as root on Debian it first installs and starts what the tests
# need (scripts/setup-test-env.sh), then runs unit and integration tests with Maven. Extra arguments go to Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
# The root file systems built under arm64 emulation take minutes of one core each on a fresh machine: build them in
# the background while Maven compiles and runs the first modules' tests. A test that needs one before it is ready
# waits for this build (the scripts lock per tarball); one that fails here is built again, and reported, by the test.
(
  scripts/disk/debian-rootfs.sh arm64 && scripts/docker/debian-rootfs.sh arm64
) > /tmp/kiln-fixture-prebuild.log 2>&1 < /dev/null &
# no image can be pulled on these machines: Testcontainers must neither start ryuk nor a helper container
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=localhost
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
exec mvn -B -ntp verify "$@"
