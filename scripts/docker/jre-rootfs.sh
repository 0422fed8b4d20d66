#!/usr/bin/env bash
# Builds (once) and caches a small root file system that runs `java -jar` and `java -cp`: a JRE made by jlink from
# the host's JDK (java.base, java.logging, java.xml, java.naming, java.sql, jdk.unsupported), the shared libraries it
# needs from the host, and busybox-static for /bin/sh. No image can be pulled on these machines, so the Maven
# plugin's sample and tests run their Java applications over this base.
#
#   scripts/docker/jre-rootfs.sh          # prints the path of the cached tarball
#   KILN_FIXTURES=/some/dir JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 scripts/docker/jre-rootfs.sh
#
# The tarball is named after the JDK's version and architecture, so another JDK gets its own. Idempotent: an existing
# tarball is kept; a build goes to a temp file renamed into place. Needs a JDK with jlink, ldd, busybox-static and
# GNU tar. About 30 s the first time.
set -euo pipefail

java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}"
jlink="$java_home/bin/jlink"
if [[ ! -x "$jlink" ]]; then
  echo "no jlink in $java_home: set JAVA_HOME to a JDK" >&2
  exit 1
fi
busybox="$(command -v busybox || true)"
if [[ -z "$busybox" ]] || ldd "$busybox" >/dev/null 2>&1; then
  echo "a static busybox is needed: apt-get install -y busybox-static" >&2
  exit 1
fi
version="$(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$java_home/release")"
arch="$(uname -m)"
dir="${KILN_FIXTURES:-$HOME/.cache/kiln-fixtures}"
out="$dir/jre-$version-$arch-rootfs.tar"
if [[ -s "$out" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$dir"
work="$(mktemp -d "$dir/.jre-rootfs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,etc,tmp,root,usr/bin,opt/java}
chmod 1777 "$root/tmp"
"$jlink" --add-modules java.base,java.logging,java.xml,java.naming,java.sql,jdk.unsupported \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$root/opt/java/jre" >&2
ln -s /opt/java/jre/bin/java "$root/usr/bin/java"
cp "$busybox" "$root/bin/busybox"
for applet in sh ls cat echo env id; do
  ln -s busybox "$root/bin/$applet"
done
# the shared libraries of the JRE's executables and libraries, and the dynamic loader, as the host has them
find "$root/opt/java/jre" -type f \( -name '*.so' -o -path '*/bin/*' \) -print0 \
  | xargs -0 ldd 2>/dev/null | awk '/=> \// {print $3} /^[ \t]*\/.*ld-linux/ {print $1}' | sort -u \
  | while read -r lib; do
      case "$lib" in "$root"/*) continue ;; esac
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' > "$root/etc/group"
tmp="$work/rootfs.tar"
tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$tmp" .
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
echo "$out"
