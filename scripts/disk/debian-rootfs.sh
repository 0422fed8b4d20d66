#!/usr/bin/env bash
# Builds (once) and caches the Debian 12 root file system tarball that the disk integration tests boot:
# amd64: minbase + python3 + linux-image-cloud-amd64 + systemd-sysv;
# arm64: minbase + linux-image-cloud-arm64 + systemd-sysv, without initramfs, documentation and translations.
#
#   scripts/disk/debian-rootfs.sh            # amd64: prints the path of the cached tarball
#   scripts/disk/debian-rootfs.sh arm64      # arm64, its maintainer scripts under QEMU user-mode emulation
#   KILN_FIXTURES=/some/dir scripts/disk/debian-rootfs.sh
#
# Idempotent: an existing tarball is kept; a build goes to a temp file renamed into place, so an interrupted run
# leaves nothing half-written behind. Needs root (mmdebstrap's root mode) or fakeroot-capable mmdebstrap, and
# the Debian packages mmdebstrap (and its apt); arm64 on another host also needs qemu-user-static and binfmt-support
# (the qemu-aarch64 binfmt_misc handler, see docs/platforms.md). Takes about 2-3 minutes the first time for amd64
# (its time is printed).
#
# arm64 runs every maintainer script under emulation, so its tarball leaves out what costs most there and the boot
# test does not need (47 minutes before on a loaded 2-core machine, 6.5-10 minutes now; see docs/PERFORMANCE.md):
# - the initramfs: update-initramfs (the kernel's postinst, then the initramfs-tools trigger) took about 20 minutes
#   each time. It is diverted to /bin/true while the packages install and restored afterwards, so the image's
#   update-initramfs works as in any Debian. The disk boots without one: linux-image-cloud-arm64 has NVMe, ext4, GPT
#   partitions and the PL011 console built in (=y), and Kiln's GRUB configuration names the root by
#   root=PARTUUID=, which the kernel resolves itself;
# - python3, whose postinst byte-compiles its standard library in an emulated interpreter;
# - usrmerge and the perl it needs (init-system-helpers depends on usrmerge | usr-is-merged): mmdebstrap's merged-usr
#   hook makes the /usr symlinks itself and installs usr-is-merged instead;
# - /usr/share/doc, man, info and locale (thousands of files for the emulated dpkg to write).
# The amd64 tarball is unchanged (its disk tests and digests are built on it).
set -euo pipefail

arch="${1:-amd64}"
case "$arch" in
  amd64) name="debian-12-cloud-kernel.tar" ;;   # the name the amd64 tests and benchmarks always used
  arm64) name="debian-12-cloud-kernel-arm64-slim.tar" ;;
  *) echo "usage: $0 [amd64|arm64]" >&2; exit 2 ;;
esac
dir="${KILN_FIXTURES:-$HOME/.cache/kiln-fixtures}"
out="$dir/$name"
# one build at a time per tarball: a second caller (a test, while scripts/test.sh builds it in the background)
# waits for the first and then takes its result
mkdir -p "$dir"
exec 9>"$out.lock"
flock 9
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
hooks=()
if [[ "$arch" == arm64 ]]; then
  # after the essential packages, before initramfs-tools and the kernel: update-initramfs becomes /bin/true
  hooks+=(--essential-hook='set -e; chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs
    ln -s /bin/true "$1/usr/sbin/update-initramfs"')
  # and is Debian's own again in the image
  hooks+=(--customize-hook='set -e; rm "$1/usr/sbin/update-initramfs"
    chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
    test -x "$1/usr/sbin/update-initramfs" && ! test -e "$1/boot/initrd.img-"*')
  include="linux-image-cloud-arm64,systemd-sysv"
  hooks+=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  for d in doc man info locale; do
    hooks+=(--dpkgopt="path-exclude=/usr/share/$d/*")
  done
else
  include="python3,linux-image-cloud-$arch,systemd-sysv"
fi
mmdebstrap --quiet --variant=minbase --architectures="$arch" --include="$include" "${hooks[@]}" \
  --format=tar bookworm "$tmp" >&2
echo "debian-rootfs.sh: $arch root file system built in $((SECONDS - start)) s" >&2
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "$out"
