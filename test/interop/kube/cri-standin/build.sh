#!/usr/bin/env bash
# Builds the CRI stand-in (main.go, standard library only) with trixie's Go 1.24 (../../trixie/fetch.sh unpacks
# it, never installed): Go 1.19 has no cleartext HTTP/2 server. Caches the binary under
# ${KUBEPKI_CACHE:-~/.cache/kubepki}/cri-standin, named by a hash of main.go; prints its path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="${KUBEPKI_CACHE:-$HOME/.cache/kubepki}/cri-standin"
bin="$cache/cri-standin-$(sha256sum "$here/main.go" | cut -c1-16)"
if [ ! -x "$bin" ]; then
  root=$("$here/../../trixie/fetch.sh" | tail -n 1)
  mkdir -p "$cache"
  GOROOT="$root/usr/lib/go-1.24" GO111MODULE=off GOPATH="$cache/gopath" GOCACHE="$cache/go-build" GOTOOLCHAIN=local CGO_ENABLED=0 \
    "$root/usr/lib/go-1.24/bin/go" build -o "$bin.tmp" "$here/main.go" >&2
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
