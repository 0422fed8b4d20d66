#!/usr/bin/env bash
# Fetches (once) and caches GRUB's arm64-efi modules (Debian's grub-efi-arm64-bin) for building arm64 disks on an
# amd64 host, where that package is not installable: the .deb of the arm64 architecture is downloaded and unpacked.
# Prints the module directory; give it to Kiln as KILN_GRUB_ARM64_EFI (or the system property
# kiln.grub.arm64-efi), see docs/disk.md. On an arm64 host, apt-get install grub-efi-arm64-bin instead.
#
#   scripts/arm64/grub-efi.sh          # prints .../arm64/grub-efi/usr/lib/grub/arm64-efi
#
# Needs root on Debian with the arm64 architecture added (scripts/setup-test-env.sh does it:
# dpkg --add-architecture arm64 && apt-get update). Idempotent; an interrupted run leaves nothing behind.
set -euo pipefail

dir="${KILN_FIXTURES:-$HOME/.cache/kiln-fixtures}/arm64"
out="$dir/grub-efi"
mods="$out/usr/lib/grub/arm64-efi"
if [[ -s "$mods/linux.mod" ]]; then
  echo "$mods"
  exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64 && [[ "$(dpkg --print-architecture)" != arm64 ]]; then
  echo "the arm64 architecture is not added: dpkg --add-architecture arm64 && apt-get update" >&2
  exit 1
fi
mkdir -p "$dir"
work="$(mktemp -d "$dir/.grub-efi.XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -qq grub-efi-arm64-bin:arm64 >&2 2>/dev/null) \
  || { echo "apt-get download grub-efi-arm64-bin:arm64 failed" >&2; exit 1; }
dpkg -x "$work"/grub-efi-arm64-bin_*_arm64.deb "$work/x"
[[ -s "$work/x/usr/lib/grub/arm64-efi/linux.mod" ]] \
  || { echo "grub-efi-arm64-bin has no usr/lib/grub/arm64-efi/linux.mod" >&2; exit 1; }
rm -rf "$out"
mv "$work/x" "$out"
echo "$mods"
