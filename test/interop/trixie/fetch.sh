#!/usr/bin/env bash
# Fetches Debian trixie's Go 1.24 toolchain and client-go 0.32 with the golang-*-dev packages it depends
# on, unpacked (never installed) under ${KUBEPKI_CACHE:-~/.cache/kubepki}/trixie-go/root, and prints that
# root. The Go judge (test/interop/judges.ts) builds with this toolchain; test/interop/clientgo/build.sh
# builds the client-go judge against these packages. Later runs reuse the cache.
#
# Nothing is installed on the machine: the .deb files come through a private apt configuration whose
# entries are this machine's Debian entries (from /etc/apt/sources.list and sources.list.d) with the
# suite changed from the machine's codename to trixie, so no host name is written here; they are
# unpacked with dpkg -x into the cache. The Go library packages are golang-k8s-client-go-dev and the
# golang-*-dev packages it depends on, recursively, as apt-cache depends resolves them under that
# configuration.
set -euo pipefail

cache="${KUBEPKI_CACHE:-$HOME/.cache/kubepki}/trixie-go"
suite=trixie
go_version=1.24
root="$cache/root"

log() { echo "trixie/fetch.sh: $*" >&2; }

# One fetch at a time: test processes and CI may ask together.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

if [ ! -f "$root/.packages" ]; then
  for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }
  done
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || { log "no VERSION_CODENAME in /etc/os-release"; exit 1; }
  arch=$(dpkg --print-architecture)

  work="$cache/work"
  rm -rf "$work"
  mkdir -p "$work/apt/lists/partial" "$work/apt/archives/partial" "$work/apt/parts" "$work/apt/preferences.d" "$work/debs"
  : >"$work/apt/status"

  # The machine's Debian entries (those of its own codename: <codename> and <codename>-updates,
  # -security, ...), with the suite changed to trixie; other entries (third-party repositories) are left out.
  awk -v old="$codename" -v new="$suite" '
    BEGIN { RS = ""; ORS = "" }
    /(^|\n)Types:[^\n]*deb([ \t\n]|$)/ && !/(^|\n)Enabled:[ \t]*no/ {
      n = split($0, lines, "\n"); keep = 0; out = ""
      for (i = 1; i <= n; i++) {
        line = lines[i]
        if (line ~ /^Types:/) line = "Types: deb"
        if (line ~ /^Suites:/) {
          m = split(substr(line, 8), suites, /[ \t]+/); line = "Suites:"
          for (j = 1; j <= m; j++)
            if (suites[j] == old || index(suites[j], old "-") == 1) { keep = 1; line = line " " new substr(suites[j], length(old) + 1) }
        }
        out = out line "\n"
      }
      if (keep) print out "\n"
    }' /etc/apt/sources.list.d/*.sources 2>/dev/null >"$work/apt/parts/kubepki-trixie.sources" || true
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    # deb [options] URI SUITE COMPONENT...
    awk -v old="$codename" -v new="$suite" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        uri = i; s = i + 1
        if ($s == old || index($s, old "-") == 1) { $s = new substr($s, length(old) + 1); print }
      }' "$file"
  done >"$work/apt/parts/kubepki-trixie.list"
  if [ ! -s "$work/apt/parts/kubepki-trixie.sources" ] && [ ! -s "$work/apt/parts/kubepki-trixie.list" ]; then
    log "no Debian $codename entries found in this machine's apt sources to derive $suite entries from"
    exit 1
  fi

  apt_opts=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$work/apt/parts"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=$work/apt/preferences.d"
    -o "Dir::State::Lists=$work/apt/lists"
    -o "Dir::State::status=$work/apt/status"
    -o "Dir::Cache::Archives=$work/apt/archives"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Architectures=$arch"
    -o "Acquire::Languages=none"
  )
  [ "$(id -u)" -ne 0 ] || apt_opts+=(-o "APT::Sandbox::User=root")

  started=$SECONDS
  log "reading the $suite package lists (private apt configuration in $work/apt)"
  apt-get "${apt_opts[@]}" update -qq >&2

  # golang-*-dev packages reached from client-go through golang-*-dev packages only (a virtual package
  # counts through the real packages apt lists as its providers).
  declare -A seen=()
  queue=(golang-k8s-client-go-dev)
  seen[golang-k8s-client-go-dev]=1
  while [ ${#queue[@]} -gt 0 ]; do
    next=()
    while read -r dep; do
      [ -n "$dep" ] || continue
      [ -z "${seen[$dep]:-}" ] || continue
      seen[$dep]=1
      next+=("$dep")
    done < <(apt-cache "${apt_opts[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${queue[@]}" |
      awk '/^  [ |]?(Pre)?Depends:/ { name = $2; if (name !~ /^</) print name; next } /^    [^ ]/ { print $1 }' |
      grep -E '^golang-.*-dev$' | sort -u)
    queue=("${next[@]}")
  done
  libs=$(printf '%s\n' "${!seen[@]}" | sort)

  # The toolchain: golang-1.24-go and what trixie splits it into (golang-1.24-src).
  toolchain=$(apt-cache "${apt_opts[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "golang-$go_version-go" |
    awk '/^  [ |]?(Pre)?Depends:/ { print $2 }' | grep -E "^golang-$go_version-" | sort -u)
  packages=$(printf '%s\n' "golang-$go_version-go" $toolchain $libs | sort -u)
  log "downloading $(echo "$packages" | wc -l) packages from $suite"
  # shellcheck disable=SC2086
  (cd "$work/debs" && apt-get "${apt_opts[@]}" download -qq $packages >&2)
  log "downloaded in $((SECONDS - started))s; unpacking"

  rm -rf "$root.partial"
  mkdir -p "$root.partial"
  for deb in "$work/debs"/*.deb; do
    dpkg-deb -x "$deb" "$root.partial"
  done
  for deb in "$work/debs"/*.deb; do
    dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb"
  done | sort >"$root.partial/.packages"
  rm -rf "$root"
  mv "$root.partial" "$root"
  rm -rf "$work"
  log "unpacked $(wc -l <"$root/.packages") packages into $root in $((SECONDS - started))s"
fi

[ -x "$root/usr/lib/go-$go_version/bin/go" ] || { log "no go binary in $root/usr/lib/go-$go_version"; exit 1; }
echo "$root"
