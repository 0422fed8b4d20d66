#!/usr/bin/env bash
# Passes Kiln's whole test suite on a fresh machine: as root on Debian it first installs and starts what the tests
# need (scripts/setup-test-env.sh), then runs unit and integration tests with Maven. Extra arguments go to Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-env.sh
# no image can be pulled on these machines: Testcontainers must neither start ryuk nor a helper container
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE=localhost
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
exec mvn -B -ntp verify "$@"
