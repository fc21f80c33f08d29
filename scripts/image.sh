#!/usr/bin/env bash
# Build and inspect the container image where no container registry is reachable.
#
#   scripts/image.sh base             # the Dockerfile's base image, made from Debian packages (cached)
#   scripts/image.sh build [TAG]      # the Dockerfile on that base (default TAG localhost/twilio-operator:test;
#                                     # IMAGE_BUILD_FLAGS=--no-cache ignores the layer cache)
#   scripts/image.sh buildah ARGS...  # buildah on the same storage (images, inspect, from, run, rm, ...)
#   scripts/image.sh clean            # forget the base, the build cache and the downloaded .debs
#
# Needs root, buildah and debootstrap (Debian: apt-get install buildah debootstrap). `make image-test`
# runs tests/packaging/test_image.py, which uses this script.
#
# The base: the Dockerfile says `FROM python:X.Y.Z-slim-SUITE` (Docker Hub's python image). That image is
# Debian SUITE (debian:SUITE-slim) with CPython compiled from source into /usr/local, pip from the
# interpreter's ensurepip, the shared libraries the interpreter links against, ca-certificates, netbase and
# tzdata, PATH=/usr/local/bin:..., LANG=C.UTF-8 and CMD ["python3"]. This script makes the same thing
# without a registry: debootstrap --variant=minbase SUITE with those packages, with documentation and
# locales left out as debian:SUITE-slim does; then a CPython X.Y already built on this machine (no CPython
# source or binary is reachable from here: BASE_PYTHON=/path/to/pythonX.Y chooses one) is copied into
# /usr/local, its build prefix rewritten to /usr/local in its text files, ldconfig run and pip installed by
# its own ensurepip. The result is tagged with the FROM name (docker.io/library/python:X.Y.Z-slim-SUITE),
# so the Dockerfile builds unchanged with --pull=never. Same Debian release and same Python minor version;
# the patch release is whichever X.Y the machine has (the image's PYTHON_VERSION says which). The copied
# interpreter's shared libraries are checked inside the new root: a host CPython built against another
# Debian release's libraries is refused.
#
# Storage: a store of its own (IMAGE_STORE, default /var/lib/containers/twilio-operator-image, overlay
# driver), so `clean` and the tests never touch other images on the machine. The base image carries a
# label with a hash of its recipe (the code that makes it, the interpreter's version, the package list);
# while that matches, `base` reuses it. `build` keeps intermediate layers (--layers); its output is kept in
# IMAGE_STORE.build.log.
#
# pip in the build stage reaches PyPI. Where HTTPS goes through a proxy with its own CA, the host's CA
# bundle (HOST_CA, default /etc/ssl/certs/ca-certificates.crt) is bind-mounted into the RUN steps, over the
# base's bundle, with an /etc/pip.conf naming it: both exist only while a RUN step runs, so neither is in
# any layer of the image.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
DOCKERFILE="${DOCKERFILE:-$ROOT_DIR/Dockerfile}"
IMAGE_STORE="${IMAGE_STORE:-/var/lib/containers/twilio-operator-image}"
IMAGE_RUNROOT="${IMAGE_RUNROOT:-/run/twilio-operator-image}"
IMAGE_STORAGE_DRIVER="${IMAGE_STORAGE_DRIVER:-overlay}"
DEB_CACHE="${DEB_CACHE:-/var/cache/twilio-operator-image/debs}"
HOST_CA="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
RECIPE_LABEL="dev.twilio-operator.test-base.recipe"

WORK=""
trap 'remove_tree "$WORK"' EXIT

# Anything mounted below a path (what debootstrap mounts in its target, if it was stopped before it could
# unmount), deepest first.
unmount_under() {
  awk -v top="$1" '$2 == top || index($2, top "/") == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount || true
}

# rm -rf that never leaves the path's filesystem, after unmounting what is mounted below it.
remove_tree() {
  [ -n "$1" ] && [ -e "$1" ] || return 0
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

log() { printf '[image.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'image.sh: %s\n' "$*" >&2; exit 1; }

# One `base` or `build` at a time per store: two test runs at once wait for each other.
lock_store() {
  mkdir -p "$IMAGE_STORE"
  exec 9>"$IMAGE_STORE.lock"
  flock 9
}

store_buildah() {
  buildah --root "$IMAGE_STORE" --runroot "$IMAGE_RUNROOT" --storage-driver "$IMAGE_STORAGE_DRIVER" "$@"
}

need_tools() {
  [ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and the image store need it)"
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "$tool is not installed (Debian: apt-get install buildah debootstrap)"
  done
}

# The base image name of the Dockerfile's first FROM, and its parts: python:X.Y.Z-slim-SUITE.
base_ref() { awk 'toupper($1) == "FROM" { print $2; exit }' "$DOCKERFILE"; }

parse_base() {
  BASE="$(base_ref)"
  [[ "$BASE" =~ ^python:([0-9]+\.[0-9]+)\.[0-9]+-slim-([a-z]+)$ ]] \
    || die "the Dockerfile's base is $BASE; this script makes python:X.Y.Z-slim-SUITE only"
  BASE_MINOR="${BASH_REMATCH[1]}"
  SUITE="${BASH_REMATCH[2]}"
  BASE_TAG="docker.io/library/$BASE"
}

# A CPython X.Y on this machine: BASE_PYTHON, else pythonX.Y on PATH or pyenv's newest X.Y, whichever runs
# (pyenv's shim on PATH does not run a version that is not selected).
find_python() {
  local candidates=() candidate info=""
  if [ -n "${BASE_PYTHON:-}" ]; then
    candidates=("$BASE_PYTHON")
  else
    candidate="$(command -v "python$BASE_MINOR" || true)"
    [ -z "$candidate" ] || candidates+=("$candidate")
    candidate="$(find "${PYENV_ROOT:-${HOME:-/root}/.pyenv}/versions" -maxdepth 3 \
      -path "*/$BASE_MINOR.*/bin/python$BASE_MINOR" 2>/dev/null | sort -V | tail -n 1)"
    [ -z "$candidate" ] || candidates+=("$candidate")
  fi
  for candidate in "${candidates[@]}"; do
    info="$("$candidate" -c 'import sys, sysconfig, platform
print(sys.base_prefix); print(platform.python_version()); print(sys.implementation.name)
print(sysconfig.get_config_var("Py_ENABLE_SHARED")); print(sys.version)' 2>/dev/null)" && break
    info=""
  done
  [ -n "$info" ] || die "no CPython $BASE_MINOR runs here to make the base image; set BASE_PYTHON=/path/to/python$BASE_MINOR"
  PY_PREFIX="$(sed -n 1p <<<"$info")"
  PY_VERSION="$(sed -n 2p <<<"$info")"
  PY_BUILD="$(sed -n 5p <<<"$info")"
  [ "$(sed -n 3p <<<"$info")" = cpython ] || die "$candidate is not CPython"
  [[ "$PY_VERSION" == "$BASE_MINOR".* ]] || die "$candidate is Python $PY_VERSION, the Dockerfile's base has $BASE_MINOR"
  case "$PY_PREFIX" in
    /usr | /) die "$candidate is a distribution's Python (prefix $PY_PREFIX); point BASE_PYTHON at one built into its own prefix" ;;
  esac
  [ -x "$PY_PREFIX/bin/python$BASE_MINOR" ] || die "no $PY_PREFIX/bin/python$BASE_MINOR"
}

# The Debian packages holding the shared libraries the interpreter and its extension modules load, found
# as the python image finds them (ldd, then dpkg), leaving out tkinter (the slim image has no Tk).
runtime_packages() {
  find "$PY_PREFIX" -type f \( -name '*.so' -o -name '*.so.*' -o -perm -u+x \) -not -name '*tkinter*' \
    -exec ldd '{}' ';' 2>/dev/null \
    | awk '/=>/ { so = $(NF-1); if (index(so, "/") == 1) print so }' \
    | grep -v "^$PY_PREFIX/" | sort -u \
    | while read -r so; do dpkg -S "$so" 2>/dev/null || dpkg -S "$(readlink -f "$so")" 2>/dev/null || true; done \
    | awk -F: '{ print $1 }' | sort -u | paste -sd, -
}

debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri="$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

image_label() {
  store_buildah inspect --type image --format "{{ index .OCIv1.Config.Labels \"$1\" }}" "$2" 2>/dev/null || true
}

cmd_base() {
  need_tools buildah debootstrap chroot flock
  lock_store
  parse_base
  find_python
  local packages recipe
  packages="ca-certificates,netbase,tzdata,$(runtime_packages)"
  recipe="$( { declare -f cmd_base find_python runtime_packages; echo "$BASE|$SUITE|$PY_VERSION|$PY_BUILD|$packages"; } \
    | sha256sum | cut -c1-16)"
  if [ "$(image_label "$RECIPE_LABEL" "$BASE_TAG")" = "$recipe" ]; then
    log "$BASE_TAG is up to date (recipe $recipe)"
    echo "$BASE_TAG"
    return
  fi

  # Every image in this store was built on the base being replaced.
  store_buildah rm --all >/dev/null
  store_buildah rmi --all --force >/dev/null 2>&1 || true

  local rootfs started=$SECONDS attempt
  WORK="$(mktemp -d /var/tmp/twilio-operator-base.XXXXXX)"
  rootfs="$WORK/rootfs"
  mkdir -p "$DEB_CACHE"
  # A second try for a download that broke off: the .debs fetched so far stay in DEB_CACHE.
  for attempt in 1 2; do
    log "debootstrap $SUITE (minbase + $packages), try $attempt"
    remove_tree "$rootfs"
    if debootstrap --variant=minbase --cache-dir="$DEB_CACHE" --include="$packages" \
      "$SUITE" "$rootfs" "$(debian_mirror)" >"$WORK/debootstrap.log" 2>&1; then
      break
    fi
    tail -n 30 "$WORK/debootstrap.log" >&2
    [ "$attempt" = 1 ] || die "debootstrap failed twice (log above)"
  done
  log "debootstrap done in $((SECONDS - started)) s"

  # As debian:SUITE-slim: no documentation (copyright files stay), man pages or translations, now or
  # for packages installed later; no apt lists, no downloaded .debs, none of this machine's files.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname

  log "CPython $PY_VERSION from $PY_PREFIX into /usr/local"
  tar -C "$PY_PREFIX" --exclude="./lib/python$BASE_MINOR/site-packages/*" --exclude=__pycache__ \
    --exclude='*.pyc' --exclude='libpython*.a' --exclude=test --exclude=tests --exclude=idle_test \
    -cf - . | tar -C "$rootfs/usr/local" -xf -
  # Rewrite the build prefix to /usr/local in text files (sysconfig data, pkg-config files, script
  # shebangs); the interpreter itself finds its prefix from where it runs.
  grep -rlI --null -- "$PY_PREFIX" "$rootfs/usr/local" | xargs -0 -r sed -i "s#$PY_PREFIX#/usr/local#g"
  chroot "$rootfs" /sbin/ldconfig
  local missing
  missing="$(chroot "$rootfs" sh -c 'find /usr/local -type f \( -name "*.so" -o -name "*.so.*" -o -perm -u+x \) -not -name "*tkinter*" -exec ldd {} \; 2>/dev/null' | grep 'not found' | sort -u || true)"
  [ -z "$missing" ] || die "the copied interpreter needs libraries $SUITE lacks:
$missing"
  local clean_env=(/usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
  chroot "$rootfs" "${clean_env[@]}" python3 -m ensurepip --default-pip >"$WORK/ensurepip.log" 2>&1 \
    || { cat "$WORK/ensurepip.log" >&2; die "ensurepip failed"; }
  local minor_bin
  for minor_bin in idle pip pydoc python python-config; do
    [ -e "$rootfs/usr/local/bin/$minor_bin" ] || ln -s "${minor_bin}3" "$rootfs/usr/local/bin/$minor_bin"
  done
  find "$rootfs/usr/local" -depth -name __pycache__ -exec rm -rf '{}' +
  chroot "$rootfs" "${clean_env[@]}" PYTHONDONTWRITEBYTECODE=1 python3 -c \
    'import ssl, sqlite3, ctypes, lzma, bz2, zlib, readline, uuid, venv, ensurepip, pip' \
    || die "the interpreter in the new root is missing a module"

  log "importing as $BASE_TAG"
  local ctr mnt
  ctr="$(store_buildah from --pull=never scratch)"
  mnt="$(store_buildah mount "$ctr")"
  tar -C "$rootfs" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
  store_buildah umount "$ctr" >/dev/null
  store_buildah config \
    --os linux --arch "$(dpkg --print-architecture)" \
    --env PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --env PYTHON_VERSION="$PY_VERSION" \
    --cmd '["python3"]' \
    --label "$RECIPE_LABEL=$recipe" \
    --label "dev.twilio-operator.test-base.description=debootstrap $SUITE with CPython $PY_VERSION, standing in for $BASE" \
    "$ctr"
  store_buildah commit --quiet --rm "$ctr" "$BASE_TAG" >/dev/null
  log "base ready in $((SECONDS - started)) s: $BASE_TAG (recipe $recipe)"
  echo "$BASE_TAG"
}

cmd_build() {
  need_tools buildah flock
  lock_store
  parse_base
  local tag="${1:-localhost/twilio-operator:test}" started=$SECONDS
  local version revision mounts=()
  version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT_DIR/pyproject.toml")"
  revision="$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  WORK="$(mktemp -d /var/tmp/twilio-operator-build.XXXXXX)"
  if [ -s "$HOST_CA" ]; then
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$WORK/pip.conf"
    mounts=(--volume "$HOST_CA:/etc/ssl/certs/ca-certificates.crt:ro" --volume "$WORK/pip.conf:/etc/pip.conf:ro")
  fi
  log "building $tag on $BASE_TAG"
  # shellcheck disable=SC2086 # IMAGE_BUILD_FLAGS: extra words for bud, e.g. --no-cache
  store_buildah bud --isolation chroot --pull=never --layers ${IMAGE_BUILD_FLAGS:-} "${mounts[@]}" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    -f "$DOCKERFILE" -t "$tag" "$ROOT_DIR" 2>&1 | tee "$IMAGE_STORE.build.log" >&2
  prune_stale_layers "$IMAGE_STORE.build.log"
  log "built $tag in $((SECONDS - started)) s"
  echo "$tag"
}

# --layers keeps an untagged image for every step, as a cache. Those this build made or used stay; the
# rest (steps of earlier sources, images whose tag moved on) are removed, newest first, so that the store
# does not grow with every change of the source.
prune_stale_layers() {
  local keep id name k
  keep="$(grep -oE '^--> (Using cache )?[0-9a-f]{11,}' "$1" | awk '{ print $NF }')"
  store_buildah images --all --format '{{.ID}} {{.Name}}' | while read -r id name; do
    [ "$name" = "<none>" ] || continue
    for k in $keep; do
      case "$k" in "$id"*) continue 2 ;; esac
      case "$id" in "$k"*) continue 2 ;; esac
    done
    store_buildah rmi "$id" >/dev/null 2>&1 || true
  done
}

cmd_clean() {
  need_tools buildah flock
  lock_store
  if [ -d "$IMAGE_STORE" ]; then
    store_buildah rm --all >/dev/null 2>&1 || true
    store_buildah rmi --all --force >/dev/null 2>&1 || true
    # The overlay driver bind-mounts its own directory (and any layer still mounted).
    remove_tree "$IMAGE_STORE"
  fi
  remove_tree "$IMAGE_RUNROOT"
  remove_tree "$DEB_CACHE"
  rm -f "$IMAGE_STORE.build.log"
  log "removed $IMAGE_STORE, $IMAGE_RUNROOT and $DEB_CACHE"
}

case "${1:-}" in
  base) cmd_base ;;
  build) shift; cmd_build "$@" ;;
  buildah) shift; need_tools buildah; store_buildah "$@" ;;
  clean) cmd_clean ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
