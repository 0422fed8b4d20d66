#!/usr/bin/env bash
# The plain shell pipeline that Kiln's DiskBuilder is measured against (docs/disk.md, "Benchmark"): unpack a rootfs
# tarball under fakeroot, mke2fs -d it, put it in a GPT disk with sfdisk and dd. No ESP content, no boot loader:
# only the part of the work both do.
#
#   scripts/disk/shell-pipeline.sh ROOTFS.tar[.gz] OUT.img [SIZE_GIB]
#
# The staging directory and the file system image go to $TMPDIR (mktemp -d). With KILN_BENCH_STEPS=1 the time of
# each step is printed on stderr.
set -euo pipefail
rootfs="$1"
out="$2"
gib="${3:-2}"
work="$(mktemp -d)"  # honours TMPDIR
trap 'rm -rf "$work"' EXIT
export E2FSPROGS_FAKE_TIME=1 LC_ALL=C
esp_mib=64
fs_mib=$((gib * 1024 - esp_mib - 2))
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
mkdir "$work/stage"
fakeroot -- sh -c "
  tar -xpf '$rootfs' -C '$work/stage' --numeric-owner &&
  date +%s%N > '$work/t1' &&
  mke2fs -q -F -t ext4 -b 4096 -U 6b696c6e-0000-4000-8000-000000000001 \
    -E hash_seed=6b696c6e-0000-4000-8000-000000000002 -d '$work/stage' '$work/root.img' ${fs_mib}M"
t2=$(ms)
truncate -s "${gib}G" "$out"
sfdisk -q --no-reread --no-tell-kernel "$out" <<EOT
label: gpt
start=2048, size=$((esp_mib * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
start=$((2048 + esp_mib * 2048)), size=$((fs_mib * 2048)), type=0FC63DAF-8483-4772-8E7D-3D69D8477DE4
EOT
dd if="$work/root.img" of="$out" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
t3=$(ms)
if [[ -n "${KILN_BENCH_STEPS:-}" ]]; then
  t1=$(( $(cat "$work/t1") / 1000000 ))
  rm -rf "$work"
  t4=$(ms)
  echo "shell steps: fakeroot tar -x $((t1 - t0)) ms, fakeroot mke2fs -d $((t2 - t1)) ms, sfdisk+dd $((t3 - t2)) ms, rm $((t4 - t3)) ms" >&2
fi
