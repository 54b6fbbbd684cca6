#!/usr/bin/env bash
# Sets up what `npm run test:interop` needs on a Debian machine, and says what it does:
#   1. the Debian packages of the judges and real peers, installed with apt-get when missing (through
#      sudo when not root);
#   2. kube-apiserver, kube-controller-manager, kubectl, the kubelet and kubeadm 1.20, built from Debian's
#      `kubernetes` source package by test/interop/kube/build.sh (about 6 minutes on 2 cores the first
#      time, cached in ${KUBEPKI_CACHE:-~/.cache/kubepki});
#   3. Debian trixie's Go 1.24 and client-go 0.32, unpacked into the same cache by
#      test/interop/trixie/fetch.sh (about 72 MB the first time; nothing is installed).
# Each step is skipped when already done. When something cannot be set up, it exits non-zero after one
# line per missing package ("setup-judges: missing Debian package <name>: <what needs it>").
# The unit tests (`npm run test:unit`) need none of this.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup-judges: $*" >&2; }

# package|what the tests use it for
packages=(
  "openssl|openssl, the OpenSSL judge"
  "gnutls-bin|certtool, the GnuTLS judge"
  "golang-go|go, which builds Kubernetes 1.20 from source"
  "etcd-server|etcd, the real etcd the control-plane tests run"
  "nginx|nginx, a real TLS server and client-certificate checker"
  "softhsm2|softhsm2-util and libsofthsm2.so, the PKCS#11 token of the HSM tests"
  "faketime|faketime, which runs the corpus, the examples and the lifecycle two years ahead"
  "dpkg-dev|dpkg-source, which unpacks Debian's kubernetes source package"
  "golang-github-modern-go-reflect2-dev|reflect2 1.0.2, which replaces a copy vendored by Kubernetes 1.20 that crashes with Go 1.19"
  "rsync|rsync, which the Kubernetes build uses"
)

why_of() {
  local entry
  for entry in "${packages[@]}"; do
    [ "${entry%%|*}" = "$1" ] && { echo "${entry#*|}"; return; }
  done
}

missing_packages() {
  local entry pkg
  for entry in "${packages[@]}"; do
    pkg=${entry%%|*}
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

fail_missing() {
  local pkg
  for pkg in "$@"; do
    echo "setup-judges: missing Debian package $pkg: $(why_of "$pkg")" >&2
  done
  log "install them (apt-get install ${*}) and run again; \`npm run test:unit\` needs none of them"
  exit 1
}

if ! command -v dpkg-query >/dev/null; then
  mapfile -t need < <(for entry in "${packages[@]}"; do echo "${entry%%|*}"; done)
  log "this is not a Debian machine (no dpkg-query): the interop tests need these Debian packages"
  fail_missing "${need[@]}"
fi

mapfile -t need < <(missing_packages)
if [ ${#need[@]} -gt 0 ]; then
  for pkg in "${need[@]}"; do log "installing $pkg: $(why_of "$pkg")"; done
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "not root and no sudo: cannot install"; fail_missing "${need[@]}"; }
    sudo_cmd=(sudo)
    log "not root: running apt-get through sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update && apt-get install --no-install-recommends ${need[*]}"
  if ! { "${sudo_cmd[@]}" apt-get update -qq >&2 && "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2; }; then
    log "apt-get failed"
  fi
  mapfile -t need < <(missing_packages)
  [ ${#need[@]} -eq 0 ] || fail_missing "${need[@]}"
fi
log "Debian packages: all ${#packages[@]} installed"

log "Kubernetes 1.20 binaries (test/interop/kube/build.sh; about 6 minutes on 2 cores unless cached)"
if ! kube_bin=$(test/interop/kube/build.sh); then
  log "the Kubernetes build failed (test/interop/kube/build.sh)"
  exit 1
fi
log "Kubernetes binaries in $kube_bin"

log "Go 1.24 and client-go 0.32 from Debian trixie (test/interop/trixie/fetch.sh; about 72 MB unless cached)"
if ! go_root=$(test/interop/trixie/fetch.sh); then
  log "fetching Go 1.24 failed (test/interop/trixie/fetch.sh)"
  exit 1
fi
log "Go 1.24 in $go_root"
