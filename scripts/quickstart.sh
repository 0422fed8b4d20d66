#!/usr/bin/env bash
# Bakes the quickstart image into the default local store (~/.cache/kiln) and an oci-archive, with no daemon:
# builds Kiln (skipping tests) and runs dev.kiln.examples.quickstart.Quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -ntp -q -DskipTests -pl examples -am install
mvn -B -ntp -q -pl examples dependency:build-classpath -Dmdep.outputFile="$PWD/examples/target/classpath.txt" >/dev/null
exec java -cp "examples/target/classes:$(cat examples/target/classpath.txt)" dev.kiln.examples.quickstart.Quickstart "$@"
