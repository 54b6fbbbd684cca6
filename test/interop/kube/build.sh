#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kubectl, the kubelet and kubeadm from Debian's `kubernetes` source
# package (1.20.2) with Debian's golang-go, offline, and caches them under ${KUBEPKI_CACHE:-~/.cache/kubepki}.
# Prints the folder holding the binaries. Later runs reuse the cache; a cache missing some of the binaries
# (one made before the kubelet or kubeadm was added) gets only those built, and keeps the others.
#
# The source comes through a private apt configuration whose deb-src entries are derived from this
# machine's own apt sources, so no host name is written here. The vendored
# github.com/modern-go/reflect2 is replaced by Debian's golang-github-modern-go-reflect2-dev 1.0.2:
# the vendored copy crashes at run time when built with Go 1.19.
set -euo pipefail

cache="${KUBEPKI_CACHE:-$HOME/.cache/kubepki}"
out="$cache/kube-1.20"
binaries=(kube-apiserver kube-controller-manager kubectl kubelet kubeadm)
wanted=()
for bin in "${binaries[@]}"; do
  [ -x "$out/$bin" ] || wanted+=("$bin")
done
if [ ${#wanted[@]} -eq 0 ]; then
  echo "$out"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
missing=()
for pkg in golang-go dpkg-dev golang-github-modern-go-reflect2-dev rsync; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build.sh: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    { "${sudo_cmd[@]}" apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
fi

work="$cache/work"
rm -rf "$work"
mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/apt/parts" "$work/src"

# deb-src entries mirroring the machine's deb entries (deb822 .sources files and one-line .list files).
sources="$work/apt/parts/kubepki-src.sources"
: >"$sources"
for file in /etc/apt/sources.list.d/*.sources; do
  [ -f "$file" ] || continue
  awk 'BEGIN { RS=""; ORS="\n\n" } /(^|\n)Types:[^\n]*deb([ \n]|$)/ && !/(^|\n)Enabled: *no/ { sub(/Types:[^\n]*/, "Types: deb-src"); print }' "$file" >>"$sources"
done
lists="$work/apt/parts/kubepki-src.list"
: >"$lists"
for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$file" ] || continue
  sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$file" >>"$lists"
done
if [ ! -s "$sources" ] && [ ! -s "$lists" ]; then
  echo "build.sh: no apt sources found on this machine to derive deb-src entries from" >&2
  exit 1
fi

apt_opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$work/apt/parts"
  -o "Dir::State::Lists=$work/apt/lists"
  -o "Dir::Cache::Archives=$work/apt/archives"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
  -o "APT::Sandbox::User=root"
)
echo "build.sh: fetching the kubernetes source package" >&2
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$work/src" && apt-get "${apt_opts[@]}" source -qq kubernetes >&2)
tree=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
[ -n "$tree" ] || { echo "build.sh: apt-get source produced no tree" >&2; exit 1; }

echo "build.sh: swapping vendored reflect2 for Debian's" >&2
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
rm -rf "$tree/vendor/github.com/modern-go/reflect2/.git" "$tree/vendor/github.com/modern-go/reflect2/go.mod" "$tree/vendor/github.com/modern-go/reflect2/go.sum" || true

echo "build.sh: building ${wanted[*]} (several minutes)" >&2
(cd "$tree" && GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on KUBE_BUILD_PLATFORMS=linux/amd64 \
  make WHAT="${wanted[*]/#/cmd/}" >&2)

# Each binary lands under a temporary name first and is renamed into place, so the cache never holds a
# half-copied binary, and the binaries already there stay as they are.
mkdir -p "$out"
for bin in "${wanted[@]}"; do
  found=$(find "$tree/_output" -type f -name "$bin" -perm -u+x | head -n 1)
  [ -n "$found" ] || { echo "build.sh: $bin was not built" >&2; exit 1; }
  cp "$found" "$out/.$bin.partial"
  mv "$out/.$bin.partial" "$out/$bin"
done
rm -rf "$work"
echo "$out"
