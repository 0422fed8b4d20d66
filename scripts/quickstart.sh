#!/usr/bin/env bash
# Bakes the quickstart image into the default local store (~/.cache/kiln), an oci-archive and a docker-archive, with
# no daemon and nothing to install besides Java 17 and Maven: builds Kiln (skipping tests) and runs
# dev.kiln.examples.quickstart.Quickstart [OUTPUT_DIR [IMAGE_NAME]], which ends by printing the exact
# `docker load -i ...` and `docker run --rm ...` lines that run the image (it prints its greeting).
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q -DskipTests -pl examples -am install
mvn -B -ntp -q -pl examples dependency:build-classpath -Dmdep.outputFile="$PWD/examples/target/classpath.txt" >/dev/null
exec java -cp "examples/target/classes:$(cat examples/target/classpath.txt)" dev.kiln.examples.quickstart.Quickstart "$@"
