#!/usr/bin/env bash
# What emulation costs an arm64 bake (bench/src/main/java/dev/kiln/bench/PlatformBakeBench.java): the definition of
# docs/platforms.md (Debian base + files layer + run layer + packages layer installing curl) baked cold for
# linux/amd64 and for linux/arm64 into oci-archive:, each layer's time printed (docs/PERFORMANCE.md, "arm64 bakes").
# Needs a running dockerd, arm64 emulation (binfmt_misc qemu-aarch64) and the Debian mirror (the packages layer).
#
#   scripts/bench-arm64.sh [ROUNDS [WORKDIR [PACKAGE]]]   # defaults: 1, a new directory under /tmp, curl
#
# Builds or reuses the Debian minbase fixtures (scripts/docker/debian-rootfs.sh and … arm64).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
rounds="${1:-1}"
bench_dirs arm64 "${2:-}"
cleanup() {
  rm -rf "$work/store-amd64" "$work/store-arm64" "$work/app"
  rm -f "$work/amd64.tar" "$work/arm64.tar"
  bench_cleanup
}
trap cleanup EXIT
amd="$(scripts/docker/debian-rootfs.sh)"
arm="$(scripts/docker/debian-rootfs.sh arm64)"
bench_classpath "$lib"
java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.kiln.bench.PlatformBakeBench \
  "$amd" "$arm" "$work" "$rounds" "${KILN_BENCH_NETWORK:-host}" "${3:-curl}"
