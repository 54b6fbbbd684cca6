#!/usr/bin/env bash
# Builds test/interop/clientgo/main.go against client-go 0.32 (Debian trixie's golang-k8s-client-go-dev)
# with trixie's Go 1.24, offline, in GOPATH mode, and caches the binary under
# ${KUBEPKI_CACHE:-~/.cache/kubepki}/clientgo. Prints the binary's path. Later runs reuse the cache; a
# changed main.go rebuilds the binary only. The toolchain and the packages come from ../trixie/fetch.sh
# (unpacked, never installed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache="${KUBEPKI_CACHE:-$HOME/.cache/kubepki}/clientgo"
go_version=1.24
# Where ../trixie/fetch.sh unpacks (it prints the same path).
root="${KUBEPKI_CACHE:-$HOME/.cache/kubepki}/trixie-go/root"

log() { echo "clientgo/build.sh: $*" >&2; }

# The binary's name carries a hash of the program and of the unpacked package set: editing main.go
# rebuilds, a new package set (a removed root) rebuilds.
binary_for() {
  local sum
  sum=$(cat "$here/main.go" "$root/.packages" | sha256sum | cut -c1-16)
  echo "$cache/bin/kubepki-clientgo-$sum"
}

if [ -f "$root/.packages" ]; then
  bin=$(binary_for)
  if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
  fi
fi

root=$("$here/../trixie/fetch.sh")
goroot="$root/usr/lib/go-$go_version"
[ -x "$goroot/bin/go" ] || { log "no go binary in $goroot"; exit 1; }
bin=$(binary_for)
mkdir -p "$cache/bin" "$cache/gocache"
started=$SECONDS
log "building $bin with $("$goroot/bin/go" version 2>/dev/null | cut -d' ' -f3) in GOPATH mode (a few minutes the first time)"
# GOPATH mode: every import comes from the unpacked /usr/share/gocode/src tree or GOROOT, nothing from
# the network or a module cache. -trimpath keeps the cache folder's path out of the binary.
(
  cd "$here"
  export GOROOT="$goroot" GOPATH="$root/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
    GOCACHE="$cache/gocache" CGO_ENABLED=0 GOTELEMETRY=off
  "$goroot/bin/go" build -trimpath -o "$bin.partial" main.go >&2
)
mv "$bin.partial" "$bin"
# Binaries of earlier versions of main.go are dropped.
find "$cache/bin" -maxdepth 1 -type f -name 'kubepki-clientgo-*' ! -path "$bin" -delete
log "built in $((SECONDS - started))s"
echo "$bin"
