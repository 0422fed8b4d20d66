#!/usr/bin/env bash
# The cost of an arm64 disk against an amd64 one (bench/src/main/java/dev/kiln/bench/DiskPlatformsBench.java): full
# builds of the Debian 12 base's raw disk of each platform, alternating, medians (docs/PERFORMANCE.md, "arm64 disks").
# The arm64 boot time is measured by core's Arm64DiskBootIT (logged at INFO).
#
#   scripts/bench-platforms.sh [ROUNDS [WORKDIR]]     # defaults: 5, a new directory under /tmp
#
# Builds or reuses the fixtures (scripts/disk/debian-rootfs.sh amd64 and arm64, scripts/arm64/grub-efi.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
rounds="${1:-5}"
bench_dirs platforms "${2:-}"
cleanup() {
  rm -f "$work/amd64.img" "$work/arm64.img"
  bench_cleanup
}
trap cleanup EXIT
amd="$(scripts/disk/debian-rootfs.sh)"
arm="$(scripts/disk/debian-rootfs.sh arm64)"
grub="$(scripts/arm64/grub-efi.sh)"
bench_classpath "$lib"
java -Dkiln.grub.arm64-efi="$grub" -cp "$BENCH_CP" dev.kiln.bench.DiskPlatformsBench "$amd" "$arm" "$work" "$rounds"
