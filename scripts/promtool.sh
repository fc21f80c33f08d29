#!/usr/bin/env bash
# Print the path of a promtool binary, building it from the Prometheus Go module on first use.
#
#   scripts/promtool.sh            # path of promtool (built once per version, then cached)
#
# promtool runs the alert rules' unit tests (charts/twilio-account/files/alerts/). No prebuilt binary is
# reachable from every machine this project is built on, but the Go module proxy is, so the binary is built
# with `go install` from the module at PROMTOOL_VERSION and kept in a cache outside the work tree, keyed by
# that version: a fresh clone reuses it and `make clean` does not throw it away. With no Go toolchain the
# script says so on stderr and exits 3, and the tests that need promtool skip (the rules are still parsed).
set -euo pipefail

VERSION="${PROMTOOL_VERSION:-v0.316.0}"
CACHE="${TWILIO_OPERATOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/twilio-operator/go-tools}"
DEST="$CACHE/promtool-$VERSION"

if [ -x "$DEST/promtool" ]; then
  echo "$DEST/promtool"
  exit 0
fi
GO="${GO:-$(command -v go || true)}"
[ -n "$GO" ] || [ ! -x /usr/local/go/bin/go ] || GO=/usr/local/go/bin/go
if [ -z "$GO" ]; then
  echo "scripts/promtool.sh: no Go toolchain; install Go to build promtool $VERSION" >&2
  exit 3
fi

mkdir -p "$CACHE"
# Built into a temporary directory beside the cache entry and moved into place whole, so an interrupted
# build never leaves a binary that looks finished.
TMP="$(mktemp -d "$CACHE/.promtool-$VERSION.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
start=$(date +%s)
echo "scripts/promtool.sh: building promtool $VERSION (once; cached in $DEST)" >&2
GOBIN="$TMP/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
  "$GO" install "github.com/prometheus/prometheus/cmd/promtool@$VERSION" >&2
"$TMP/bin/promtool" --version >/dev/null
rm -rf "$DEST"
mv "$TMP/bin" "$DEST"
echo "scripts/promtool.sh: built in $(( $(date +%s) - start )) s" >&2
echo "$DEST/promtool"
