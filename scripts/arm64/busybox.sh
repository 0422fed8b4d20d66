#!/usr/bin/env bash
# Fetches (once) and caches the arm64 busybox-static binary from the Debian mirror, for tests that bake arm64
# images on an amd64 host: no image can be pulled on these machines, so arm64 bases come from root file systems.
#
#   scripts/arm64/busybox.sh          # prints the path of the cached arm64 busybox
#
# Needs root on Debian with the arm64 architecture added (scripts/setup-test-env.sh does it:
# dpkg --add-architecture arm64 && apt-get update). Idempotent; an interrupted run leaves nothing behind.
set -euo pipefail

dir="${KILN_FIXTURES:-$HOME/.cache/kiln-fixtures}/arm64"
out="$dir/busybox"
if [[ -s "$out" ]]; then
  echo "$out"
  exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "the arm64 architecture is not added: dpkg --add-architecture arm64 && apt-get update" >&2
  exit 1
fi
mkdir -p "$dir"
work="$(mktemp -d "$dir/.busybox.XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq busybox-static:arm64 >&2 2>/dev/null) \
  || { echo "apt-get download busybox-static:arm64 failed" >&2; exit 1; }
dpkg -x "$work"/busybox-static_*_arm64.deb "$work/x"
cp "$work/x/bin/busybox" "$work/busybox"
chmod 0755 "$work/busybox"
mv -f "$work/busybox" "$out"
echo "$out"
