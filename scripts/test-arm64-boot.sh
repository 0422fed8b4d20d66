#!/usr/bin/env bash
# The arm64 disk boot proof alone (core's Arm64DiskBootIT, also part of scripts/test.sh): an arm64 Debian disk with a
# systemd unit layer boots under qemu-system-aarch64 -M virt with AAVMF firmware to a userspace marker. Its fixture,
# an arm64 Debian with a kernel built by mmdebstrap under QEMU user emulation (scripts/disk/debian-rootfs.sh arm64),
# takes a few minutes the first time and is cached in ~/.cache/kiln-fixtures afterwards.
# Usage: scripts/test-arm64-boot.sh   (as root on Debian; runs scripts/setup-test-env.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-env.sh
mvn -B -pl core -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
  -Dit.test=Arm64DiskBootIT -Dfailsafe.failIfNoSpecifiedTests=false
