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
rounds="${1:-1}"
work="${2:-}"
if [[ -z "$work" ]]; then
  work="$(mktemp -d /tmp/kiln-arm64-bench.XXXXXX)"
  created=1
fi
lib="$(mktemp -d /tmp/kiln-arm64-bench-lib.XXXXXX)"
cleanup() {
  rm -rf "$lib" "$work/store-amd64" "$work/store-arm64" "$work/app"
  rm -f "$work/amd64.tar" "$work/arm64.tar"
  if [[ -n "${created:-}" ]]; then rmdir "$work" 2>/dev/null || true; fi
}
trap cleanup EXIT
amd="$(scripts/docker/debian-rootfs.sh)"
arm="$(scripts/docker/debian-rootfs.sh arm64)"
. scripts/bench-lib.sh
bench_classpath "$lib"
java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$BENCH_CP" dev.kiln.bench.PlatformBakeBench \
  "$amd" "$arm" "$work" "$rounds" "${KILN_BENCH_NETWORK:-host}" "${3:-curl}"
