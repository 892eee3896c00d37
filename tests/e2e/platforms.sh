#!/usr/bin/env bash
# tests/e2e/platforms.sh — strata's `--platform` handling through a real BuildKit.
#
#   host_platform            --platform linux/<host arch>: an image for that platform that runs
#   missing_platform_error   --platform linux/amd64,linux/s390x with a base that has no s390x
#                            (a one-platform image, which resolves to amd64 whatever is
#                            asked): the build fails before running anything, naming the
#                            image and both platforms (base images are resolved and checked
#                            per platform)
#   two_platforms_emulated   --platform linux/amd64,linux/arm64 from a two-platform base (made
#                            here in the image store), exported as an OCI archive: one image
#                            index with both platforms, each config of its own architecture,
#                            both images run (arm64 under emulation); step names carry their
#                            platform; a rebuild is all cache hits. Needs qemu-user-static with binfmt_misc for aarch64
#                            (`apt-get install qemu-user-static binfmt-support`, then
#                            `update-binfmts --enable qemu-aarch64`); SKIPPED with a message
#                            without it, or when STRATA_E2E_EMULATION=0. The arm64 base's
#                            root filesystem is made once with `debootstrap --arch=arm64`
#                            (about 10 minutes under emulation) and kept in $STRATA_CACHE,
#                            the base image is kept too (localhost/strata-e2e/python-multiarch).
#
# Assumes the engine is up (scripts/dockerstack.sh up),
# localhost/python:3.11-bookworm (scripts/dockerstack.sh base) and the frontend image
# (scripts/build-frontend-image.sh). The builds need the network (PyPI).
#
# usage: tests/e2e/platforms.sh [--frontend IMAGE] [--only REGEX] [--keep]
# Each test prints `ok NAME`, `FAIL NAME: reason` or `skip NAME: reason`; the last line is
# `N passed, N failed, N skipped`. Exit status is non-zero when a test failed.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
ONLY=
KEEP=0
BASE_IMAGE=localhost/python:3.11-bookworm
CACHE=${STRATA_CACHE:-/var/cache/strata}
MIRROR=${STRATA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

while [ $# -gt 0 ]; do
  case "$1" in
    --frontend) FRONTEND=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

RUN_ID=$$-$(date +%s)
WORK=$(mktemp -d /tmp/strata-e2e-platforms.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
IMAGES=()   # local images this run made
failed=0

cleanup() {
  if [ "$KEEP" = 0 ]; then
    [ ${#IMAGES[@]} -gt 0 ] && docker image rm -f "${IMAGES[@]}" >/dev/null 2>&1
    # The logs stay when a test failed (their path is printed with the failure).
    if [ "$failed" = 0 ]; then rm -rf "$WORK"; else rm -rf "$WORK/app" "$WORK/base" "$WORK"/*.oci.tar; fi
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

APP=$WORK/app

host_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;;
  esac
}

# make_app BASE: a small app (one tier, an app dir) on BASE.
make_app() {
  rm -rf "$APP"; mkdir -p "$APP/app"
  cat >"$APP/strata.toml" <<EOF
# syntax=$FRONTEND
version = 1

[image]
base = "$1"

[[python.layers]]
name = "base"
requirements = ["requirements.txt"]

[app]
include = ["app/"]

[run]
cmd = ["python3", "-m", "app.main"]
EOF
  # The comment makes this run's install step its own: no other build on the daemon has
  # it (a vertex that another build has too is shown under that build's name).
  printf 'six==1.16.0\n# %s\n' "$RUN_ID" >"$APP/requirements.txt"
  : >"$APP/app/__init__.py"
  printf 'import platform, six\nprint("platforms-e2e", platform.machine(), six.__version__)\n' >"$APP/app/main.py"
}

# build LOGNAME [buildx args...]: build $APP with rawjson progress; sets LOG.
build() {
  local name=$1; shift
  LOG=$LOGS/$name.log
  local args=(buildx build --network host --progress=rawjson --provenance=false
              -f "$APP/strata.toml" --build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $APP" >"$LOG"
  docker "${args[@]}" "$@" "$APP" >>"$LOG" 2>&1
}

# names LOG: the vertex names of a rawjson log.
names() { jq -r '.vertexes[]?.name // empty' < <(sed -n '/^{/,/^}/p' "$1") 2>/dev/null | sort -u; }

# ------------------------------------------------------------------ tests

test_preflight() {
  docker info >/dev/null 2>&1 || { fail "docker is not reachable at $DOCKER_HOST (scripts/dockerstack.sh up)"; return 1; }
  command -v jq >/dev/null || { fail "jq is missing (apt-get install jq)"; return 1; }
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || { fail "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"; return 1; }
  docker image inspect "$FRONTEND" >/dev/null 2>&1 || { fail "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"; return 1; }
}

test_host_platform() {
  local arch img=strata-e2e/platforms-host:$RUN_ID v
  arch=$(host_arch)
  make_app "$BASE_IMAGE"
  IMAGES+=("$img")
  build host --platform "linux/$arch" --load -t "$img" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  v=$(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$img" 2>/dev/null)
  [ "$v" = "linux/$arch" ] || { fail "the image is for '$v', expected linux/$arch"; return 1; }
  v=$(docker run --rm --network none "$img" 2>&1 | tail -n1)
  [ "$v" = "platforms-e2e $(uname -m) 1.16.0" ] || { fail "the image printed '$v'"; return 1; }
  # One platform: no platform in the step names.
  names "$LOG" | grep -qx '\[app\] pip install tier base' \
    || fail "no '[app] pip install tier base' step in the progress"
}

test_missing_platform_error() {
  make_app "$BASE_IMAGE"
  if build missing-platform --platform linux/amd64,linux/s390x -t "strata-e2e/platforms-none:$RUN_ID"; then
    fail "a build for linux/s390x from a base without it succeeded"; return 1
  fi
  # The base is one platform's image (not an index): resolving it for s390x gives the
  # amd64 image, which strata must refuse rather than label s390x.
  grep -q "the image \`$BASE_IMAGE\` is for linux/amd64, not linux/s390x" "$LOG" \
    || { fail "the error does not say that $BASE_IMAGE is not for linux/s390x: $(grep -m1 ERROR "$LOG")"; return 1; }
  if names "$LOG" | grep -q '^\[app'; then
    fail "steps were started before the bases of all platforms were resolved"; return 1
  fi
}

# binfmt_ok: the kernel runs aarch64 binaries through qemu (with the F flag, which
# containers need: the interpreter is opened when registered, not looked up in them).
binfmt_ok() {
  local f=/proc/sys/fs/binfmt_misc/qemu-aarch64
  [ "$(uname -m)" = aarch64 ] && return 0
  [ -r "$f" ] && head -n1 "$f" | grep -qx enabled && grep -q '^flags: .*F' "$f"
}

# arm64_rootfs: the path of the arm64 base's root filesystem tarball, made when missing.
arm64_rootfs() {
  local key tar r
  key=$( { echo "bookworm minbase arm64 python3,python3-venv,python3-pip,ca-certificates,curl $MIRROR"
           cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; } | sha256sum | cut -c1-16)
  tar=$CACHE/python-3.11-bookworm-arm64-$key.rootfs.tar
  if [ ! -s "$tar" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap is missing" >&2; return 1; }
    mkdir -p "$CACHE"
    r=$(mktemp -d "$CACHE/rootfs-arm64.XXXXXX")
    echo "platforms: debootstrap --arch=arm64 into $r (about 10 minutes under emulation)" >&2
    if ! debootstrap --arch=arm64 --variant=minbase \
        --include=python3,python3-venv,python3-pip,ca-certificates,curl \
        bookworm "$r" "$MIRROR" >"$LOGS/debootstrap-arm64.log" 2>&1; then
      rm -rf "$r"; echo "debootstrap failed (log $LOGS/debootstrap-arm64.log)" >&2; return 1
    fi
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
      chroot "$r" update-ca-certificates >/dev/null 2>&1
    fi
    rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/tmp/* "$r"/var/log/*.log
    tar --numeric-owner -C "$r" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$r"
  fi
  echo "$tar"
}

# multiarch_base: the name of a linux/amd64 + linux/arm64 python base in the local image
# store (printed): the amd64 image is $BASE_IMAGE, the arm64 one the debootstrapped root
# filesystem. (In the image store, not the registry: the docker driver pushes with the
# daemon, which needs every layer's compressed blob locally, and a registry base is pulled
# lazily.)
multiarch_base() {
  local tar amd key ref dir=$WORK/base
  tar=$(arm64_rootfs) || return 1
  amd=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" | sed 's/^sha256://' | cut -c1-12)
  key=$(basename "$tar" .rootfs.tar | sed 's/.*-arm64-//')
  ref=localhost/strata-e2e/python-multiarch:3.11-bookworm-$amd-$key
  rm -rf "$dir"; mkdir -p "$dir"
  ln "$tar" "$dir/rootfs-arm64.tar" 2>/dev/null || cp "$tar" "$dir/rootfs-arm64.tar"
  cat >"$dir/Dockerfile" <<EOF
FROM $BASE_IMAGE AS base-amd64
FROM scratch AS base-arm64
ADD rootfs-arm64.tar /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["python3"]
FROM base-\${TARGETARCH}
EOF
  docker buildx build --platform linux/amd64,linux/arm64 --provenance=false --progress=plain \
    --load -t "$ref" "$dir" >"$LOGS/multiarch-base.log" 2>&1 || return 1
  echo "$ref"
}

# oci_json TAR PATH: a JSON file of an OCI archive (index.json, or blobs/sha256/<hex>).
oci_json() { tar -xOf "$1" "$2"; }
oci_blob() { oci_json "$1" "blobs/sha256/${2#sha256:}"; }

test_two_platforms_emulated() {
  if [ "${STRATA_E2E_EMULATION:-1}" = 0 ]; then skip "STRATA_E2E_EMULATION=0"; return 0; fi
  if ! binfmt_ok; then
    skip "no binfmt_misc emulation for aarch64 (apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64)"
    return 0
  fi
  local base img=strata-e2e/platforms-app:$RUN_ID out=$WORK/two-platforms.oci.tar idx p v
  LOG=$LOGS/multiarch-base.log
  base=$(multiarch_base) || { fail "could not make a two-platform base image"; return 1; }
  make_app "$base"
  IMAGES+=("$img")
  # An OCI archive: written by BuildKit itself, with every layer.
  build two-platforms --platform linux/amd64,linux/arm64 \
    --output "type=oci,dest=$out,name=$img" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  idx=$(oci_json "$out" index.json | jq -r '.manifests[0].digest')
  [ -n "$idx" ] && [ "$idx" != null ] || { fail "no image index in $out"; return 1; }
  p=$(oci_blob "$out" "$idx" | jq -c '[.manifests[]?.platform | "\(.os)/\(.architecture)"] | sort')
  [ "$p" = '["linux/amd64","linux/arm64"]' ] \
    || { fail "the index lists platforms $p, expected linux/amd64 and linux/arm64"; return 1; }
  for a in amd64 arm64; do
    local m cfg
    m=$(oci_blob "$out" "$idx" | jq -r --arg a "$a" '.manifests[] | select(.platform.architecture == $a) | .digest')
    cfg=$(oci_blob "$out" "$m" | jq -r .config.digest)
    v=$(oci_blob "$out" "$cfg" | jq -r '"\(.os)/\(.architecture) \(.config.Cmd | join(" "))"')
    [ "$v" = "linux/$a python3 -m app.main" ] || { fail "the $a config says '$v'"; return 1; }
  done
  docker load -i "$out" >"$LOGS/load.log" 2>&1 || { fail "docker load of the archive failed: $(tail -n1 "$LOGS/load.log")"; return 1; }
  v=$(docker run --rm --network none --platform linux/arm64 "$img" 2>&1 | tail -n1)
  [ "$v" = "platforms-e2e aarch64 1.16.0" ] || { fail "the arm64 image printed '$v'"; return 1; }
  v=$(docker run --rm --network none --platform linux/amd64 "$img" 2>&1 | tail -n1)
  [ "$v" = "platforms-e2e x86_64 1.16.0" ] || { fail "the amd64 image printed '$v'"; return 1; }
  for a in amd64 arm64; do
    names "$LOG" | grep -qx "\[app linux/$a\] pip install tier base" \
      || { fail "no '[app linux/$a] pip install tier base' step in the progress"; return 1; }
  done
  # Each platform has its own cache keys, and they are stable: a rebuild is all hits.
  build two-platforms-again --platform linux/amd64,linux/arm64 --output type=cacheonly \
    || { fail "rebuild failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  # (An op executed when the solver started it without a cache hit: such updates carry
  # the vertex's inputs; see tests/e2e/cache.sh.)
  v=$(jq -rs '[.[] | .vertexes[]? | select(.digest != null)] | group_by(.digest)[]
              | select(map(select(.started != null and ((.cached // false) | not)
                                  and ((.inputs // []) | length) > 0)) | length > 0)
              | map(.name // empty) | last' < <(sed -n '/^{/,/^}/p' "$LOG") | sort -u)
  [ -z "$v" ] || fail "steps ran again in an unchanged two-platform rebuild: $(echo "$v" | paste -sd '|' -)"
}

# ------------------------------------------------------------------ runner

TESTS=(
  test_preflight
  test_host_platform
  test_missing_platform_error
  test_two_platforms_emulated
)

run_tests
