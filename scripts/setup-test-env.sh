#!/usr/bin/env bash
# Installs (Debian, as root) and starts what Kiln's tests need: the Docker engine, a registry binary, the image
# and disk validators, qemu with OVMF, e2fsprogs and friends. Idempotent: a second run installs nothing and leaves
# a running dockerd alone.
set -euo pipefail

PACKAGES=(
  docker.io            # the real engine (20.10, API 1.41) for docker-archive/docker-daemon tests and run layers
  docker-registry apache2-utils  # distribution 2.8, started per test on 127.0.0.1; htpasswd for its auth tests
  skopeo umoci         # OCI validators
  busybox-static       # tiny base root file systems (no image can be pulled here)
  qemu-utils           # qemu-img check/compare
  e2fsprogs fakeroot gdisk fdisk mtools dosfstools  # disk images, without root or loop devices
  grub-efi-amd64-bin   # reproducible EFI boot loader (grub-mkimage)
  qemu-system-x86 ovmf # boot tests (software emulation)
  qemu-system-arm qemu-efi-aarch64  # the arm64 boot test (virt machine, EDK2 firmware; GRUB's arm64-efi modules
                       # come from scripts/arm64/grub-efi.sh: grub-efi-arm64-bin installs only on arm64)
  mmdebstrap arch-test # Debian base root file systems for disk and Ansible tests (arch-test: foreign ones)
  qemu-user-static binfmt-support  # arm64 run/packages/Ansible layers on amd64, through binfmt_misc (docs/platforms.md)
  ansible              # ansible-playbook (ansible-core 2.14) with community.docker, for Ansible layers and their tests
  golang-go golang-github-vmware-govmomi-dev  # the vCenter simulator, built from Debian's govmomi sources
  jq curl
)

if [ "$(id -u)" -ne 0 ] || [ ! -f /etc/debian_version ]; then
  echo "setup-test-env: not root on Debian; skipping installs (install these yourself: ${PACKAGES[*]})" >&2
else
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    # arm64 packages (busybox-static:arm64 for the multi-platform tests) come from the same mirror
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup-test-env: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/kiln-apt.log 2>&1 \
      || { tail -50 /tmp/kiln-apt.log; exit 1; }
  fi

  if ! { [ -S /var/run/docker.sock ] && docker_ok=$(/usr/bin/docker version --format '{{.Server.Version}}' 2>/dev/null) && [ -n "$docker_ok" ]; }; then
    echo "setup-test-env: starting dockerd"
    setsid dockerd --iptables=false >/var/log/dockerd.log 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
      /usr/bin/docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
      sleep 1
    done
    /usr/bin/docker version --format 'setup-test-env: dockerd {{.Server.Version}} (API {{.Server.APIVersion}})' \
      || { tail -30 /var/log/dockerd.log; exit 1; }
  fi

  # QEMU user-mode emulation for foreign-architecture containers: the handler needs the fix-binary flag F
  if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
  fi
  if [ -e /proc/sys/fs/binfmt_misc/status ] && ! grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  grep -qs '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    && echo "setup-test-env: arm64 emulation ready (binfmt_misc qemu-aarch64, flags F)" \
    || echo "setup-test-env: arm64 emulation is not available (binfmt_misc qemu-aarch64 missing)" >&2
fi
