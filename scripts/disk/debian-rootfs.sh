#!/usr/bin/env bash
# Builds (once) and caches the Debian 12 root file system tarball that the disk integration tests boot:
# minbase + python3 + linux-image-cloud-ARCH (ext4, NVMe and virtio built in) + systemd-sysv.
#
#   scripts/disk/debian-rootfs.sh            # amd64: prints the path of the cached tarball
#   scripts/disk/debian-rootfs.sh arm64      # arm64, its maintainer scripts under QEMU user-mode emulation
#   KILN_FIXTURES=/some/dir scripts/disk/debian-rootfs.sh
#
# Idempotent: an existing tarball is kept; a build goes to a temp file renamed into place, so an interrupted run
# leaves nothing half-written behind. Needs root (mmdebstrap's root mode) or fakeroot-capable mmdebstrap, and
# the Debian packages mmdebstrap (and its apt); arm64 on another host also needs qemu-user-static and binfmt-support
# (the qemu-aarch64 binfmt_misc handler, see docs/platforms.md). Takes about 2-3 minutes the first time for amd64;
# arm64 under emulation takes several times as long (its time is printed).
set -euo pipefail

arch="${1:-amd64}"
case "$arch" in
  amd64) name="debian-12-cloud-kernel.tar" ;;   # the name the amd64 tests and benchmarks always used
  arm64) name="debian-12-cloud-kernel-arm64.tar" ;;
  *) echo "usage: $0 [amd64|arm64]" >&2; exit 2 ;;
esac
dir="${KILN_FIXTURES:-$HOME/.cache/kiln-fixtures}"
out="$dir/$name"
if [[ -s "$out" ]]; then
  echo "$out"
  exit 0
fi
if ! command -v mmdebstrap >/dev/null; then
  echo "mmdebstrap not found: apt-get install -y mmdebstrap" >&2
  exit 1
fi
if [[ "$arch" != "$(dpkg --print-architecture)" ]] && ! grep -qs '^enabled' "/proc/sys/fs/binfmt_misc/qemu-aarch64"; then
  echo "no arm64 emulation (binfmt_misc qemu-aarch64): apt-get install -y qemu-user-static binfmt-support" >&2
  exit 1
fi
mkdir -p "$dir"
tmp="$(mktemp "$dir/.debian-$arch.XXXXXX.tar")"
trap 'rm -f "$tmp"' EXIT
# A fixed SOURCE_DATE_EPOCH keeps the tarball's own metadata stable; the package versions still follow the mirror.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
start=$SECONDS
mmdebstrap --quiet --variant=minbase --architectures="$arch" \
  --include="python3,linux-image-cloud-$arch,systemd-sysv" \
  --format=tar bookworm "$tmp" >&2
echo "debian-rootfs.sh: $arch root file system built in $((SECONDS - start)) s" >&2
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "$out"
