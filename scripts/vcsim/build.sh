#!/bin/sh
# Builds kiln-vcsim (govmomi's vCenter simulator behind a small main of Kiln's own) offline from Debian's Go
# sources and prints the path of the binary. The binary is cached under a name derived from main.go and the
# installed govmomi version, so a second run costs nothing.
#
#   needs:  apt-get install -y golang-go golang-github-vmware-govmomi-dev
#   usage:  scripts/vcsim/build.sh [CACHE_DIR]      (default: ${XDG_CACHE_HOME:-$HOME/.cache}/kiln-fixtures)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-${KILN_FIXTURES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln-fixtures}}
gocode=/usr/share/gocode

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: 'go' not found: apt-get install -y golang-go golang-github-vmware-govmomi-dev" >&2
  exit 2
fi
if [ ! -d "$gocode/src/github.com/vmware/govmomi/simulator" ]; then
  echo "build.sh: govmomi sources not found under $gocode: apt-get install -y golang-github-vmware-govmomi-dev" >&2
  exit 2
fi

govmomi=$(dpkg-query -W -f='${Version}' golang-github-vmware-govmomi-dev 2>/dev/null || echo unknown)
key=$( { cat "$here/main.go"; echo "$govmomi"; go version; } | sha256sum | cut -c1-16)
bin="$cache/kiln-vcsim-$key"

if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/src/kiln-vcsim"
  cp "$here/main.go" "$work/src/kiln-vcsim/"
  (cd "$work/src/kiln-vcsim" &&
    GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$work:$gocode" go build -o "$work/kiln-vcsim" . >&2)
  mv "$work/kiln-vcsim" "$bin"   # atomic: concurrent builds each rename a complete binary
fi
echo "$bin"
