#!/usr/bin/env bash
# Build tests/packaging/argocd_lua, the harness that runs our Argo CD health checks and resource actions in
# Argo CD's own Lua engine (gopher-lua with Argo CD's sandbox), into a cache outside the work tree keyed by
# its source, and reuse it when present:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/twilio-operator/argocd-lua/<hash of the source>/argocd-lua
#
# Usage: scripts/argocd-lua.sh [--print-path]
#   (no option)    build unless cached; the last line printed is the program's path
#   --print-path   print the path and exit 0 if it is built, 1 otherwise
# Environment: TWILIO_ARGOCD_LUA_CACHE overrides the cache directory; GO names the go command.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
source_dir=$here/tests/packaging/argocd_lua
cache=${TWILIO_ARGOCD_LUA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/twilio-operator/argocd-lua}
key=$(cat "$source_dir/go.mod" "$source_dir/go.sum" "$source_dir/main.go" | sha256sum | cut -c1-16)
program=$cache/$key/argocd-lua

if [ "${1:-}" = --print-path ]; then
  echo "$program"
  [ -x "$program" ]
  exit
fi

if [ -x "$program" ]; then
  echo "argocd-lua: reusing $program" >&2
  echo "$program"
  exit 0
fi

go_cmd=${GO:-$(command -v go || true)}
[ -n "$go_cmd" ] || { [ -x /usr/local/go/bin/go ] && go_cmd=/usr/local/go/bin/go; }
if [ -z "$go_cmd" ] || ! command -v "$go_cmd" >/dev/null; then
  echo "argocd-lua: needs the Go toolchain, 1.26 or newer, as 'go' on PATH (or GO=/path/to/go)" >&2
  exit 1
fi

# As for the control plane: no toolchain downloads, and go.sum records every hash without the checksum
# database (not reachable everywhere the module proxy is).
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
export GOSUMDB=${GOSUMDB:-off}
started=$SECONDS
mkdir -p "$(dirname "$program")"
(cd "$source_dir" && CGO_ENABLED=0 "$go_cmd" build -trimpath -ldflags "-s -w" -o "$program.tmp" .)
mv "$program.tmp" "$program"
echo "argocd-lua: built in $((SECONDS - started))s into $program" >&2
echo "$program"
