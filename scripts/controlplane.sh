#!/usr/bin/env bash
# Build etcd, kube-apiserver and kube-controller-manager from the Go modules, as controller-runtime's envtest
# ships them, for `twilio-operator sandbox --kube apiserver`. The versions are pinned in
# operator/twilio_operator/sandbox/controlplane/versions.env; the binaries land in a cache outside the work
# tree, keyed by those versions, and are reused when present:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/twilio-operator/controlplane/k8s-<version>-etcd-<version>/bin/
#
# k8s.io/kubernetes points its staging modules (k8s.io/api, k8s.io/apiserver, ...) at ./staging with replace
# directives, which `go install pkg@version` refuses. So the build goes through a small generated module that
# requires k8s.io/kubernetes and replaces every staging module with its published v0.<minor>.<patch>.
#
# Usage: scripts/controlplane.sh [--print-dir]
#   (no option)   build unless cached; the last line printed is the bin directory
#   --print-dir   print the bin directory and exit 0 if it holds all three programs, exit 1 otherwise
# Environment: TWILIO_CONTROLPLANE_CACHE overrides the cache root; GO names the go command.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$here/operator/twilio_operator/sandbox/controlplane/versions.env"
: "${KUBERNETES_VERSION:?} ${ETCD_VERSION:?}"

cache_root=${TWILIO_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/twilio-operator/controlplane}
key_dir=$cache_root/k8s-$KUBERNETES_VERSION-etcd-$ETCD_VERSION
bin_dir=$key_dir/bin
programs=(etcd kube-apiserver kube-controller-manager)

complete() {
  local program
  for program in "${programs[@]}"; do
    [ -x "$bin_dir/$program" ] || return 1
  done
}

if [ "${1:-}" = --print-dir ]; then
  echo "$bin_dir"
  complete
  exit
fi

if complete; then
  echo "controlplane: reusing $bin_dir" >&2
  echo "$bin_dir"
  exit 0
fi

# The Go toolchain: on PATH, or where the official archive unpacks.
go_cmd=${GO:-$(command -v go || true)}
[ -n "$go_cmd" ] || { [ -x /usr/local/go/bin/go ] && go_cmd=/usr/local/go/bin/go; }
# k8s.io/kubernetes v1.37 declares `go 1.26.0`; an older toolchain would try to download a newer one.
if [ -z "$go_cmd" ] || ! command -v "$go_cmd" >/dev/null ||
  ! "$go_cmd" version | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])'; then
  echo "controlplane: needs the Go toolchain, 1.26 or newer, as 'go' on PATH (or GO=/path/to/go)" >&2
  exit 1
fi

# The staging modules are published as v0.<minor>.<patch> for Kubernetes v1.<minor>.<patch>.
staging_version=v0.${KUBERNETES_VERSION#v1.}

export GOTOOLCHAIN=local GOFLAGS=-mod=mod
# The checksum database is not reachable everywhere the module proxy is; go.sum still records every hash.
export GOSUMDB=${GOSUMDB:-off}

work=$(mktemp -d "$cache_root/.build.XXXXXX" 2>/dev/null || { mkdir -p "$cache_root" && mktemp -d "$cache_root/.build.XXXXXX"; })
trap 'rm -rf "$work"' EXIT
started=$SECONDS

cd "$work"
cat >go.mod <<MOD
module twilio-operator.local/controlplane

go 1.26.0

require (
	k8s.io/kubernetes $KUBERNETES_VERSION
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
)
MOD

# Every staging module k8s.io/kubernetes replaces with ./staging/src/k8s.io/<name>, at the published release.
k8s_mod=$("$go_cmd" mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[ -f "$k8s_mod" ] || { echo "controlplane: could not download k8s.io/kubernetes@$KUBERNETES_VERSION" >&2; exit 1; }
replaces=()
while read -r module; do
  replaces+=("-replace=$module=$module@$staging_version")
done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$k8s_mod")
# No `go mod tidy`: it would fetch the test dependencies of every package too. `go build -mod=mod` fetches
# what the three programs import and records it in go.sum.
"$go_cmd" mod edit "${replaces[@]}"

# What `kubectl version` and /version report, as a release build sets it.
version_pkg=k8s.io/component-base/version
minor=${KUBERNETES_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w -X $version_pkg.gitVersion=$KUBERNETES_VERSION -X $version_pkg.gitMajor=1"
ldflags+=" -X $version_pkg.gitMinor=$minor -X $version_pkg.gitTreeState=clean"
ldflags+=" -X $version_pkg.buildDate=1970-01-01T00:00:00Z"

# One invocation, so the packages the three programs share are compiled once.
mkdir -p out
CGO_ENABLED=0 "$go_cmd" build -trimpath -ldflags "$ldflags" -o out/ \
  go.etcd.io/etcd/server/v3 \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager
# go names a program after its import path without the major-version suffix: go.etcd.io/etcd/server/v3.
mv out/server out/etcd

mkdir -p "$key_dir"
cp go.mod go.sum "$key_dir/"
rm -rf "$bin_dir"
mv out "$bin_dir"
echo "controlplane: built ${programs[*]} in $((SECONDS - started))s into $bin_dir" >&2
echo "$bin_dir"
