#!/usr/bin/env bash
# Builds (once) and caches the Debian 12 minbase root file system (with python3) that provider-docker's package
# and Ansible tests use as a base: no image can be pulled on these machines, so bases come from root file systems.
#
#   scripts/docker/debian-rootfs.sh          # prints the path of the cached tarball
#   scripts/docker/debian-rootfs.sh arm64    # arm64: essential + apt (no python3), built under QEMU emulation
#   KILN_FIXTURES=/some/dir scripts/docker/debian-rootfs.sh
#
# Idempotent: an existing tarball is kept; a build goes to a temp file renamed into place, so an interrupted run
# leaves nothing half-written behind. Needs root and the Debian package mmdebstrap. About 90 s the first time.
set -euo pipefail

arch="${1:-}"
dir="${KILN_FIXTURES:-$HOME/.cache/kiln-fixtures}"
if [[ -n "$arch" ]]; then
  out="$dir/debian-bookworm-apt-$arch.tar"
else
  out="$dir/debian-bookworm-minbase.tar"
fi
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
mkdir -p "$dir"
tmp="$(mktemp "$dir/.debian-minbase.XXXXXX.tar")"
trap 'rm -f "$tmp"' EXIT
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
if [[ -n "$arch" ]]; then
  # a foreign architecture: maintainer scripts run under qemu-user (arch-test checks it works)
  mmdebstrap --quiet --arch="$arch" --variant=apt --format=tar bookworm "$tmp" >&2
else
  mmdebstrap --quiet --variant=minbase --include=python3 --format=tar bookworm "$tmp" >&2
fi
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "$out"
