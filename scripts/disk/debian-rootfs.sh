#!/usr/bin/env bash
# Builds (once) and caches the Debian 12 root file system tarball that the disk integration tests boot:
# minbase + python3 + linux-image-cloud-amd64 (ext4 and NVMe built in) + systemd-sysv.
#
#   scripts/disk/debian-rootfs.sh            # prints the path of the cached tarball
#   KILN_FIXTURES=/some/dir scripts/disk/debian-rootfs.sh
#
# Idempotent: an existing tarball is kept; a build goes to a temp file renamed into place, so an interrupted run
# leaves nothing half-written behind. Needs root (mmdebstrap's root mode) or fakeroot-capable mmdebstrap, and
# the Debian packages mmdebstrap (and its apt). Takes about 2-3 minutes the first time.
set -euo pipefail

dir="${KILN_FIXTURES:-$HOME/.cache/kiln-fixtures}"
out="$dir/debian-12-cloud-kernel.tar"
if [[ -s "$out" ]]; then
  echo "$out"
  exit 0
fi
if ! command -v mmdebstrap >/dev/null; then
  echo "mmdebstrap not found: apt-get install -y mmdebstrap" >&2
  exit 1
fi
mkdir -p "$dir"
tmp="$(mktemp "$dir/.debian.XXXXXX.tar")"
trap 'rm -f "$tmp"' EXIT
# A fixed SOURCE_DATE_EPOCH keeps the tarball's own metadata stable; the package versions still follow the mirror.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
mmdebstrap --quiet --variant=minbase \
  --include=python3,linux-image-cloud-amd64,systemd-sysv \
  --format=tar bookworm "$tmp" >&2
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "$out"
