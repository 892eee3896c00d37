#!/usr/bin/env bash
# tests/e2e/layers.sh — what strata's graph promises about layers, checked on the images it builds.
#
# Writes its own app in a temp dir (two services sharing a "base" tier, three tiers for the
# first, a dev-only tier, a runtime and a build-only system package) and builds it through
# `docker buildx build` with the strata frontend, then checks:
#   tier_change_keeps_earlier_layers  after a change to the last tier's requirements, the layers
#                                     of the base image, the runtime chain, the venv and the
#                                     earlier tiers keep their digests (and only that tier's changes)
#   services_share_base_tier          two services sharing tier "base" have the same layer for it
#   non_root_owns_only_its_workdir    runs as uid 10001, which owns /app (the workdir) and nothing
#                                     in the venv or the app's code
#   final_image_is_clean              no compiler, no apt lists, no pip cache, no pip in the venv,
#                                     no /opt/strata-tools (and the runtime package is there)
#   app_edit_runs_only_app_step       after an app-file edit only the app copy runs
#   tests_pruned_except_dev           no tests/ inside site-packages packages in a production
#                                     target; they are there in the NAME-dev target
#   ml_*                              issue 13, on an app of its own (services plain and media,
#                                     media adds a runtime package): the two share every layer
#                                     above the runtime chain; the app's bytecode is checked-hash
#                                     and the context's .git/__pycache__/*.pyc/.venv are absent;
#                                     a service with both [app] settings off copies the context as
#                                     it is; uid/gid 12345:23456; the dev target's env/run override; a
#                                     proxy build arg reaches a [[build]] step, is not in the
#                                     image config and another value re-runs nothing
#   uv_installer                      installer = "uv" (wheels from a local index on 127.0.0.1):
#                                     the app runs; bytecode compiled; no links into the cache,
#                                     no uv, uv cache or pip in the image; a --no-cache rebuild
#                                     re-runs the installs and downloads no wheel again
# Assumes the engine is up (scripts/dockerstack.sh up), localhost/python:3.11-bookworm exists
# (scripts/dockerstack.sh base) and the frontend image exists (scripts/build-frontend-image.sh);
# pip reaches the package index through the host network.
#
# usage: tests/e2e/layers.sh [--frontend IMAGE] [--only REGEX] [--keep]
#   --frontend IMAGE  frontend to build with (default $STRATA_FRONTEND_IMAGE, else
#                     strata/frontend:dev, the app's `# syntax=`); another is passed as BUILDKIT_SYNTAX
#   --only REGEX      run only the tests whose name matches
#   --keep            keep the temp dir (app copies, logs) and the images
# Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is `N passed, N failed`.
# Exit status is non-zero when a test failed. Containers it starts are always removed.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
DEFAULT_FRONTEND=strata/frontend:dev
BASE_IMAGE=localhost/python:3.11-bookworm
UV_VERSION=0.13.9   # the uv strata installs (frontend/plan/src/python.rs UV_VERSION)
ONLY=
KEEP=0
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
LABEL=strata-e2e-layers.run=$RUN_ID
WORK=$(mktemp -d /tmp/strata-e2e-layers.XXXXXX)
LOGS=$WORK/logs
mkdir -p "$LOGS"
IMG=strata-e2e-layers/app
BUILT=()   # image tags this run built (or tried to)

cleanup() {
  stop_servers
  docker ps -aq --filter "label=$LABEL" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
  if [ "$KEEP" = 0 ]; then
    [ ${#BUILT[@]} -gt 0 ] && docker image rm "${BUILT[@]}" >/dev/null 2>&1
    rm -rf "$WORK"
  else
    echo "kept $WORK and the images ${BUILT[*]:-}" >&2
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ the app

# write_app DIR: the test app. Tier files hold exact pins of small pure wheels, except
# simplejson (a C extension whose wheel carries simplejson/tests/).
write_app() {
  local d=$1
  mkdir -p "$d/req" "$d/app"
  cat >"$d/strata.toml" <<'EOF'
# syntax=strata/frontend:dev
version = 1

[image]
base = "localhost/python:3.11-bookworm"
env = { PYTHONUNBUFFERED = "1" }

[system]
packages = ["tini"]
build-packages = ["gcc", "libc6-dev"]

[[python.layers]]
name = "base"
requirements = ["req/base.txt"]

[[python.layers]]
name = "mid"
requirements = ["req/mid.txt"]

[[python.layers]]
name = "last"
requirements = ["req/last.txt"]

[[python.layers]]
name = "other"
requirements = ["req/other.txt"]

[[python.layers]]
name = "devtools"
requirements = ["req/dev.txt"]
dev = true

[app]
include = ["app/"]

[services.one]
layers = ["base", "mid", "last", "devtools"]
run.cmd = ["python", "-m", "app"]

[services.two]
layers = ["base", "other"]
run.cmd = ["python", "-m", "app"]
EOF
  printf '# tier base\ntyping-extensions==4.16.0\n' >"$d/req/base.txt"
  printf '# tier mid (simplejson ships simplejson/tests)\nsimplejson==4.3.0\n' >"$d/req/mid.txt"
  printf '# tier last\nidna==3.20\n' >"$d/req/last.txt"
  printf '# tier other (service two)\nh11==0.16.0\n' >"$d/req/other.txt"
  printf '# dev-only tier\niniconfig==2.3.1\n' >"$d/req/dev.txt"
  printf '"""Test app of tests/e2e/layers.sh."""\n' >"$d/app/__init__.py"
  cat >"$d/app/__main__.py" <<'EOF'
import simplejson
import typing_extensions

print(simplejson.dumps({"ok": True}))
EOF
  printf '**/__pycache__\n**/*.pyc\n' >"$d/.dockerignore"
}

APP=$WORK/app
write_app "$APP"

# ------------------------------------------------------------------ helpers

# build LOGNAME IMAGE TARGET [extra buildx args...]: build $APP's strata.toml with rawjson
# progress into $LOGS/LOGNAME.log (sets LOG).
build() {
  local name=$1 image=$2 target=$3; shift 3
  LOG=$LOGS/$name.log
  BUILT+=("$image")
  local args=(buildx build --network host --load --progress=rawjson --target "$target"
              -f "$APP/strata.toml" -t "$image")
  [ "$FRONTEND" != "$DEFAULT_FRONTEND" ] && args+=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $APP" >"$LOG"
  docker "${args[@]}" "$@" "$APP" >>"$LOG" 2>&1
}
build_or_fail() { build "$@" || fail "build of $2 failed: $(grep -m1 -i error "$LOG")"; }
# build_dir DIR LOGNAME IMAGE [extra buildx args...]: build DIR/strata.toml (its default target).
build_dir() {
  local dir=$1 name=$2 image=$3; shift 3
  LOG=$LOGS/$name.log
  BUILT+=("$image")
  local args=(buildx build --network host --load --progress=rawjson -f "$dir/strata.toml" -t "$image")
  [ "$FRONTEND" != "$DEFAULT_FRONTEND" ] && args+=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $dir" >"$LOG"
  docker "${args[@]}" "$@" "$dir" >>"$LOG" 2>&1
}

# Vertices that are not build steps: loading, resolving, exporting; strata's layer slicing
# (DiffOp "layer: ...") and assembly (MergeOp "assemble image layers") are not execs either.
NOT_A_STEP_RE='^\[internal\]|load build (context|definition)|load \.dockerignore|load metadata|resolve image config|local://|docker-image://|FROM |^exporting|^naming|^writing image|^unpacking|\] layer: |assemble image layers'
ran_steps() {
  ran_not_cached "$1" \
    | grep -Ev -- "$NOT_A_STEP_RE" | grep -Fv -- "$BASE_IMAGE" || true
}

layers() { docker image inspect -f '{{json .RootFS.Layers}}' "$1"; }

# layer_files IMAGE: one line per layer, bottom first: DIFF_ID<TAB>space-separated paths of a few
# marker files it holds (python packages' top-level dirs and dist-infos under site-packages).
layer_index() {
  local image=$1 d; d=$(mktemp -d "$WORK/save.XXXXXX")
  docker save "$image" -o "$d/img.tar" && tar -xf "$d/img.tar" -C "$d" || { rm -rf "$d"; return 1; }
  local ids blobs i
  mapfile -t ids < <(layers "$image" | jq -r '.[]')
  mapfile -t blobs < <(jq -r '.[0].Layers[]' "$d/manifest.json")
  for ((i = 0; i < ${#ids[@]}; i++)); do
    printf '%s\t%s\n' "${ids[$i]}" \
      "$(tar -tzf "$d/${blobs[$i]}" 2>/dev/null | grep -oE 'site-packages/[^/]+\.dist-info/$' | sed 's#site-packages/##; s#/$##' | tr '\n' ' ')"
  done
  rm -rf "$d"
}
# layer_of INDEXFILE DIST: the diff ID of the layer that installs the distribution DIST
# (its NAME-VERSION.dist-info directory), or nothing.
layer_of() { awk -F'\t' -v p="$2" '{ n = split($2, a, " "); for (i = 1; i <= n; i++) if (index(a[i], p) == 1) print $1 }' "$1" | head -n1; }

in_image() { docker run --rm --network none --label "$LABEL" --user 0 --entrypoint sh "$1" -c "$2"; }

ONE=$IMG-one:$RUN_ID
TWO=$IMG-two:$RUN_ID
ONE_DEV=$IMG-one-dev:$RUN_ID

# ------------------------------------------------------------------ tests

test_preflight() {
  docker info >/dev/null 2>&1 || { fail "docker is not reachable at $DOCKER_HOST (scripts/dockerstack.sh up)"; return 1; }
  docker buildx version >/dev/null 2>&1 || { fail "docker buildx is missing"; return 1; }
  command -v jq >/dev/null || { fail "jq is missing (apt-get install jq)"; return 1; }
  has_image "$BASE_IMAGE" || { fail "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"; return 1; }
  has_image "$FRONTEND" || { fail "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"; return 1; }
}

test_builds() {
  build_or_fail one "$ONE" one || return 1
  build_or_fail two "$TWO" two || return 1
  local out; out=$(docker run --rm --network none --label "$LABEL" "$ONE" 2>&1)
  [ "$out" = '{"ok": true}' ] || fail "the app of service one printed '$out'"
}

test_tier_change_keeps_earlier_layers() {
  need_image "$ONE" || return 1
  local before_img=$IMG-one-before:$RUN_ID
  docker tag "$ONE" "$before_img"; BUILT+=("$before_img")
  local before; before=$(layers "$ONE")
  layer_index "$ONE" >"$WORK/before.idx" || { fail "docker save of $ONE failed"; return 1; }
  # A real change to the last tier: one more pinned package.
  printf 'six==1.17.0\n' >>"$APP/req/last.txt"
  build_or_fail tier-change "$ONE" one || return 1
  local after; after=$(layers "$ONE")
  layer_index "$ONE" >"$WORK/after.idx" || { fail "docker save of $ONE failed"; return 1; }
  [ -n "$(layer_of "$WORK/after.idx" six-1.17.0)" ] || { fail "six is not in any layer of the rebuilt image"; return 1; }

  local pos_b pos_a nb na
  pos_b=$(jq -r --arg l "$(layer_of "$WORK/before.idx" idna-3.20)" 'index($l) // -1' <<<"$before")
  pos_a=$(jq -r --arg l "$(layer_of "$WORK/after.idx" idna-3.20)" 'index($l) // -1' <<<"$after")
  [ "$pos_b" -ge 0 ] && [ "$pos_a" -ge 0 ] || { fail "no layer installs idna (tier last) in one of the images"; return 1; }
  [ "$pos_b" = "$pos_a" ] || { fail "tier last moved from layer $pos_b to layer $pos_a"; return 1; }
  local base_n; base_n=$(docker image inspect -f '{{len .RootFS.Layers}}' "$BASE_IMAGE")
  [ "$pos_b" -gt "$((base_n + 2))" ] \
    || { fail "tier last is layer $pos_b, expected above the base ($base_n), runtime chain and venv layers"; return 1; }
  # Everything below tier last: base image, user, runtime packages, venv, tiers base and mid.
  local i changed=()
  for ((i = 0; i < pos_b; i++)); do
    [ "$(jq -r ".[$i]" <<<"$before")" = "$(jq -r ".[$i]" <<<"$after")" ] || changed+=("$i")
  done
  [ ${#changed[@]} = 0 ] || { fail "layers below tier last changed digest: positions ${changed[*]} (tier last is $pos_b)"; return 1; }
  local t; for t in typing_extensions-4.16.0 simplejson-4.3.0; do
    [ "$(layer_of "$WORK/before.idx" "$t")" = "$(layer_of "$WORK/after.idx" "$t")" ] \
      || { fail "the layer installing ${t%-*} changed digest"; return 1; }
  done
  [ "$(layer_of "$WORK/before.idx" idna-3.20)" != "$(layer_of "$WORK/after.idx" idna-3.20)" ] \
    || { fail "tier last's layer did not change although its requirements did"; return 1; }
  # Only tier last's layer is new (the app layer above it does not depend on it).
  nb=$(jq length <<<"$before"); na=$(jq length <<<"$after")
  local new; new=$(jq -rn --argjson b "$before" --argjson a "$after" '$a - $b | length')
  [ "$nb" = "$na" ] && [ "$new" = 1 ] || fail "expected exactly one new layer (tier last) of $nb, got $new new of $na"
}

test_services_share_base_tier() {
  need_image "$ONE" || return 1; need_image "$TWO" || return 1
  local i1 i2; i1=$WORK/one.idx; i2=$WORK/two.idx
  layer_index "$ONE" >"$i1" && layer_index "$TWO" >"$i2" || { fail "docker save failed"; return 1; }
  local l1 l2; l1=$(layer_of "$i1" typing_extensions-4.16.0); l2=$(layer_of "$i2" typing_extensions-4.16.0)
  [ -n "$l1" ] && [ -n "$l2" ] || { fail "no layer installs typing-extensions (tier base) in one of the services"; return 1; }
  [ "$l1" = "$l2" ] || { fail "tier base has different layers: one $l1, two $l2"; return 1; }
  # ...and it is that tier alone: service two's own tier is not in it.
  [ -z "$(layer_of "$i1" h11-)" ] || { fail "service one has tier other (h11)"; return 1; }
  [ -n "$(layer_of "$i2" h11-0.16.0)" ] && [ "$(layer_of "$i2" h11-0.16.0)" != "$l2" ] \
    || fail "service two's tier other is not a layer of its own"
}

test_final_image_is_clean() {
  need_image "$ONE" || return 1
  local out
  out=$(in_image "$ONE" '
    for c in gcc cc c++ g++ x86_64-linux-gnu-gcc-12 cpp; do command -v "$c" >/dev/null 2>&1 && echo "compiler: $c"; done
    ls /usr/lib/gcc/x86_64-linux-gnu/*/cc1 >/dev/null 2>&1 && echo "compiler: cc1"
    [ -e /usr/include/stdio.h ] && echo "headers: /usr/include/stdio.h (libc6-dev)"
    if [ -d /var/lib/apt/lists ]; then
      n=$(find /var/lib/apt/lists -type f ! -name lock | wc -l); [ "$n" = 0 ] || echo "apt lists: $n files in /var/lib/apt/lists"
    fi
    n=$(find /var/cache/apt -type f -name "*.deb" 2>/dev/null | wc -l); [ "$n" = 0 ] || echo "apt cache: $n .deb files"
    if [ -d /root/.cache/pip ] && [ -n "$(ls -A /root/.cache/pip)" ]; then echo "pip cache: /root/.cache/pip is not empty"; fi
    ls /opt/venv/bin/pip* >/dev/null 2>&1 && echo "pip in the venv: $(ls /opt/venv/bin/pip* | tr "\n" " ")"
    ls -d /opt/venv/lib/python3*/site-packages/pip >/dev/null 2>&1 && echo "pip in the venv site-packages"
    /opt/venv/bin/python -m pip --version >/dev/null 2>&1 && echo "python -m pip works in the venv"
    [ -e /opt/strata-tools ] && echo "/opt/strata-tools exists"
    command -v tini >/dev/null 2>&1 || echo "runtime package tini is missing"
    true' 2>&1)
  [ -z "$out" ] || fail "$(echo "$out" | paste -sd ';' -)"
}

test_app_edit_runs_only_app_step() {
  need_image "$ONE" || return 1
  # A fresh state first (the build before is a no-op if nothing changed), then the edit.
  build_or_fail app-edit-before "$ONE" one || return 1
  printf '\n# edited by layers.sh %s\n' "$RUN_ID" >>"$APP/app/__main__.py"
  build_or_fail app-edit "$ONE" one || return 1
  local ran other
  ran=$(ran_steps "$LOG")
  [ -n "$(vertices "$LOG")" ] || { fail "no vertex in the progress output (unparsable log?)"; return 1; }
  grep -q 'copy app' <<<"$ran" || { fail "the app copy did not run after the edit (ran: $(echo "$ran" | paste -sd '|' -))"; return 1; }
  grep -q 'compile app bytecode' <<<"$ran" || { fail "the app's bytecode was not compiled again after the edit"; return 1; }
  # The app's steps: staged on the builder image, compiled, copied.
  other=$(grep -Ev 'copy app|app: sources at /strata-app|compile app bytecode' <<<"$ran" || true)
  [ -z "$other" ] || fail "an app edit ran other steps: $(echo "$other" | paste -sd '|' -)"
}

test_tests_pruned_except_dev() {
  need_image "$ONE" || return 1
  build_or_fail one-dev "$ONE_DEV" one-dev || return 1
  local q='find /opt/venv/lib/python3*/site-packages -mindepth 2 -type d \( -name tests -o -name test \) | sort'
  local prod dev
  prod=$(in_image "$ONE" "$q" 2>&1)
  dev=$(in_image "$ONE_DEV" "$q" 2>&1)
  [ -z "$prod" ] || { fail "production target has tests dirs: $(echo "$prod" | head -n 3 | paste -sd ' ' -)"; return 1; }
  grep -q 'site-packages/simplejson/tests$' <<<"$dev" \
    || { fail "dev target lacks simplejson/tests (found: '$(echo "$dev" | head -n 3 | paste -sd ' ' -)')"; return 1; }
  in_image "$ONE_DEV" 'ls -d /opt/venv/lib/python3*/site-packages/iniconfig' >/dev/null 2>&1 \
    || { fail "dev target lacks the dev tier (iniconfig)"; return 1; }
  ! in_image "$ONE" 'ls -d /opt/venv/lib/python3*/site-packages/iniconfig' >/dev/null 2>&1 \
    || fail "production target has the dev tier (iniconfig)"
}

# The image runs as uid 10001 by default; that user owns its workdir and nothing of the
# venv or the app code (it can write /app, not the code it runs).
test_non_root_owns_only_its_workdir() {
  need_image "$ONE" || return 1
  local uid out
  uid=$(docker run --rm --network none --label "$LABEL" --entrypoint id "$ONE" -u 2>&1)
  [ "$uid" = 10001 ] || { fail "the image runs as uid '$uid' by default, expected 10001"; return 1; }
  out=$(in_image "$ONE" '
    [ "$(stat -c %u /app)" = 10001 ] || echo "/app belongs to uid $(stat -c %u /app), not 10001"
    owned=$(find /opt/venv /app -mindepth 1 -user 10001 | head -n 3)
    [ -z "$owned" ] && [ "$(stat -c %u /opt/venv)" = 0 ] || echo "uid 10001 owns $owned $(stat -c %n:%u /opt/venv)"
    [ -n "$(find /app -mindepth 1 -type f)" ] || echo "no app files under /app"
    true' 2>&1)
  [ -z "$out" ] || { fail "$(echo "$out" | paste -sd ';' -)"; return 1; }
  out=$(docker run --rm --network none --label "$LABEL" --entrypoint sh "$ONE" -c '
    touch /app/written-by-the-app || echo "cannot write its workdir /app"
    touch /opt/venv/x 2>/dev/null && echo "can write /opt/venv"
    touch /app/app/__init__.py 2>/dev/null && echo "can modify its own code"
    true' 2>&1)
  [ -z "$out" ] || fail "as uid 10001: $(echo "$out" | paste -sd ';' -)"
}

# --- installer = "uv": its own app, with a local index whose log shows what was downloaded

UVAPP=$WORK/uvapp
UV_IMG=$IMG-uv:$RUN_ID
test_uv_installer() {
  local idx=$WORK/uv-index port
  rm -rf "$UVAPP" "$idx"; mkdir -p "$UVAPP/req" "$UVAPP/app" "$idx/packages"
  # A PEP 503 index on 127.0.0.1 with the app's wheels and uv's own (strata installs uv from
  # the spec's index), whose request log tells which wheels each build downloaded.
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$idx/packages" \
      typing-extensions==4.16.0 idna==3.20 uv=="$UV_VERSION" >"$LOGS/uv-download.log" 2>&1 \
    || { fail "pip download of the index's wheels failed: $(tail -n 2 "$LOGS/uv-download.log")"; return 1; }
  python3 - "$idx" <<'PY' || { fail "could not write the index"; return 1; }
import hashlib, os, re, sys
root = sys.argv[1]
for name in os.listdir(f"{root}/packages"):
    project = re.sub(r"[-_.]+", "-", name.split("-")[0]).lower()
    sha = hashlib.sha256(open(f"{root}/packages/{name}", "rb").read()).hexdigest()
    os.makedirs(f"{root}/simple/{project}", exist_ok=True)
    with open(f"{root}/simple/{project}/index.html", "a") as f:
        f.write(f'<a href="../../packages/{name}#sha256={sha}">{name}</a>\n')
PY
  port=$(free_port)
  serve uv-index "$port" python3 -m http.server --bind 127.0.0.1 --directory "$idx" "$port" || return 1
  cat >"$UVAPP/strata.toml" <<SPEC
# syntax=strata/frontend:dev
version = 1
[image]
base = "$BASE_IMAGE"
[python]
installer = "uv"
index-url = "http://127.0.0.1:$port/simple"
[[python.layers]]
name = "base"
requirements = ["req/base.txt"]
[[python.layers]]
name = "last"
requirements = ["req/last.txt"]
[app]
include = ["app/"]
[run]
cmd = ["python", "-m", "app"]
SPEC
  echo "typing-extensions==4.16.0" >"$UVAPP/req/base.txt"
  echo "idna==3.20" >"$UVAPP/req/last.txt"
  printf 'import idna, typing_extensions\nprint(idna.encode("strata.example").decode())\n' >"$UVAPP/app/__main__.py"
  : >"$UVAPP/app/__init__.py"

  build_dir "$UVAPP" uv "$UV_IMG" || { fail "build with installer = \"uv\" failed: $(grep -m1 -i error "$LOG")"; return 1; }
  local out; out=$(docker run --rm --network none --label "$LABEL" "$UV_IMG" 2>&1)
  [ "$out" = strata.example ] || { fail "the uv-built app printed '$out'"; return 1; }
  vertices "$LOG" | cut -f5 | grep -q 'uv install tier base' \
    || { fail "no 'uv install tier base' step in the build"; return 1; }
  grep -Eq '"GET /packages/idna-3\.20-[^ ]*\.whl HTTP/1\.[01]" 200' "$LOGS/uv-index.server.log" \
    || { fail "the first build did not download idna from the local index"; return 1; }
  # What the image holds: bytecode compiled in the install step; copies, not links into the
  # cache mount (UV_LINK_MODE=copy); no uv, no uv cache, no pip, no tool venv.
  out=$(in_image "$UV_IMG" '
    sp=$(echo /opt/venv/lib/python3*/site-packages)
    ls "$sp"/idna/__pycache__/*.pyc >/dev/null 2>&1 || echo "no compiled bytecode in idna/__pycache__"
    n=$(find "$sp" -type l | wc -l); [ "$n" = 0 ] || echo "$n symlinks in site-packages"
    n=$(find "$sp" -type f -links +1 | wc -l); [ "$n" = 0 ] || echo "$n hard-linked files in site-packages"
    command -v uv >/dev/null 2>&1 && echo "uv on PATH: $(command -v uv)"
    [ -e /opt/strata-tools ] && echo "/opt/strata-tools exists"
    if [ -d /root/.cache/uv ] && [ -n "$(ls -A /root/.cache/uv)" ]; then echo "uv cache in the image"; fi
    ls "$sp"/pip >/dev/null 2>&1 && echo "pip in the venv"
    true' 2>&1)
  [ -z "$out" ] || { fail "$(echo "$out" | paste -sd ';' -)"; return 1; }
  # The uv cache is a cache mount shared across builds: with --no-cache every step runs again,
  # and still no wheel of the app is downloaded a second time.
  local before; before=$(wc -l <"$LOGS/uv-index.server.log")
  build_dir "$UVAPP" uv-again "$UV_IMG" --no-cache || { fail "--no-cache rebuild failed: $(grep -m1 -i error "$LOG")"; return 1; }
  ran_steps "$LOG" | grep -q 'uv install tier last' \
    || { fail "with --no-cache the install step did not run again"; return 1; }
  local again
  again=$(tail -n +"$((before + 1))" "$LOGS/uv-index.server.log" | grep -E '"GET /packages/(idna|typing_extensions)-[^ ]*" 200' || true)
  [ -z "$again" ] || fail "the rebuild downloaded wheels again (uv cache mount not reused): $(echo "$again" | head -n 2 | paste -sd ' ' -)"
}

# --- issue 13: runtime packages off the builder, app bytecode, default excludes, [dev],
# uid/gid, proxy build args. One app, services `plain` and `media` (media adds the runtime
# package tini and nothing else).

MLAPP=$WORK/mlapp
ML_PLAIN=$IMG-ml-plain:$RUN_ID
ML_MEDIA=$IMG-ml-media:$RUN_ID
ML_DEV=$IMG-ml-plain-dev:$RUN_ID
ML_PROXY=$IMG-ml-proxy:$RUN_ID
PROXY_A=http://proxy-a.invalid:3128
PROXY_B=http://proxy-b.invalid:3128

write_mlapp() {
  local d=$MLAPP
  rm -rf "$d"; mkdir -p "$d/app/pkg" "$d/app/__pycache__" "$d/.git" "$d/.venv/bin" "$d/app/.pytest_cache" "$d/native"
  cat >"$d/strata.toml" <<'SPEC'
# syntax=strata/frontend:dev
version = 1

[image]
base = "localhost/python:3.11-bookworm"
uid = 12345
gid = 23456
env = { LOG_LEVEL = "info" }

[[python.layers]]
name = "base"
requirements = ["requirements.txt"]

# A build step that records the proxy it sees (FTP_PROXY: no download here uses FTP, so a
# made-up proxy breaks nothing).
[[build]]
name = "proxy"
context = ["native/"]
run = ["mkdir -p /out", "echo \"upper=$${FTP_PROXY:-unset} lower=$${ftp_proxy:-unset}\" > /out/proxy.txt"]
outputs = { "/out" = "/opt/proxy" }

[run]
cmd = ["python", "-m", "app"]

[dev]
image.env = { LOG_LEVEL = "debug" }

[services.plain]
[services.plain.dev]
run.cmd = ["python", "-m", "app", "--reload"]

[services.media]
system.packages = ["tini"]

# Both app settings off: the context's files as they are, nothing compiled.
[services.raw]
app = { default-excludes = false, compile-bytecode = false }
SPEC
  echo "typing-extensions==4.16.0" >"$d/requirements.txt"
  echo "a source of the build step" >"$d/native/README"
  printf 'import typing_extensions\nfrom app import pkg\nprint("ml", pkg.VALUE)\n' >"$d/app/__main__.py"
  : >"$d/app/__init__.py"
  printf 'VALUE = 42\n' >"$d/app/pkg/__init__.py"
  # What the guides clean from the app, with no .dockerignore here to do it:
  echo "stale bytecode" >"$d/app/__pycache__/stale.cpython-311.pyc"
  echo "stray bytecode" >"$d/app/pkg/stray.pyc"
  echo "ref: refs/heads/main" >"$d/.git/HEAD"
  echo "#!/bin/sh" >"$d/.venv/bin/python"
  echo "cache" >"$d/app/.pytest_cache/README.md"
}

build_ml() {
  local name=$1 image=$2 target=$3; shift 3
  LOG=$LOGS/$name.log
  BUILT+=("$image")
  local args=(buildx build --network host --load --progress=rawjson --target "$target"
              -f "$MLAPP/strata.toml" -t "$image")
  [ "$FRONTEND" != "$DEFAULT_FRONTEND" ] && args+=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $MLAPP" >"$LOG"
  docker "${args[@]}" "$@" "$MLAPP" >>"$LOG" 2>&1 || { fail "build of $image failed: $(grep -m1 -i error "$LOG")"; return 1; }
}

test_ml_builds() {
  write_mlapp
  build_ml ml-plain "$ML_PLAIN" plain --build-arg "FTP_PROXY=$PROXY_A" || return 1
  build_ml ml-media "$ML_MEDIA" media --build-arg "FTP_PROXY=$PROXY_A" || return 1
  local out; out=$(docker run --rm --network none --label "$LABEL" "$ML_PLAIN" 2>&1)
  [ "$out" = "ml 42" ] || fail "the app printed '$out'"
}

# Two services that differ only by a runtime package share every layer but the runtime
# chain's: the venv, the tier, the build output and the app, digest for digest; the
# builder never installs the runtime package.
test_ml_runtime_package_keeps_tier_layers() {
  need_image "$ML_PLAIN" || return 1; need_image "$ML_MEDIA" || return 1
  local ip=$WORK/ml-plain.idx im=$WORK/ml-media.idx
  layer_index "$ML_PLAIN" >"$ip" && layer_index "$ML_MEDIA" >"$im" || { fail "docker save failed"; return 1; }
  local lp lm; lp=$(layer_of "$ip" typing_extensions-4.16.0); lm=$(layer_of "$im" typing_extensions-4.16.0)
  [ -n "$lp" ] && [ -n "$lm" ] || { fail "no layer installs typing-extensions in one of the services"; return 1; }
  [ "$lp" = "$lm" ] || { fail "tier base differs: plain $lp, media $lm"; return 1; }
  # Every layer of plain above the base image and the user is in media too (venv, tier,
  # build output, app); media has exactly one layer more (its apt install).
  local base_n np nm missing
  base_n=$(docker image inspect -f '{{len .RootFS.Layers}}' "$BASE_IMAGE")
  np=$(layers "$ML_PLAIN" | jq length); nm=$(layers "$ML_MEDIA" | jq length)
  [ "$nm" = "$((np + 1))" ] || { fail "media has $nm layers, plain $np: expected one more"; return 1; }
  missing=$(jq -rn --argjson p "$(layers "$ML_PLAIN")" --argjson m "$(layers "$ML_MEDIA")" --argjson k "$((base_n + 1))" \
    '$p[$k:] - $m | length')
  [ "$missing" = 0 ] || { fail "$missing of plain's layers above its runtime chain are not in media"; return 1; }
  vertices "$LOGS/ml-media.log" | cut -f5 | grep -q 'apt-get install tini' \
    || { fail "media has no runtime 'apt-get install tini' step"; return 1; }
  if vertices "$LOGS/ml-media.log" | cut -f5 | grep -q 'builder: apt-get'; then
    fail "the builder installed packages (runtime packages must stay off it)"; return 1
  fi
  in_image "$ML_MEDIA" 'command -v tini' >/dev/null || fail "tini is not in media's image"
}

test_ml_app_bytecode_and_default_excludes() {
  need_image "$ML_PLAIN" || return 1
  local out
  out=$(in_image "$ML_PLAIN" '
    for p in /app/.git /app/.venv /app/app/.pytest_cache /app/app/__pycache__/stale.cpython-311.pyc /app/app/pkg/stray.pyc; do
      [ -e "$p" ] && echo "$p was copied"
    done
    for p in /app/app/__pycache__/__main__.cpython-311.pyc /app/app/pkg/__pycache__/__init__.cpython-311.pyc; do
      [ -f "$p" ] || { echo "no $p"; continue; }
      [ "$(stat -c %Y "$p")" = 0 ] || echo "$p has mtime $(stat -c %Y "$p"), not 0"
    done
    python -c "
import glob
for p in glob.glob(\"/app/app/**/__pycache__/*.pyc\", recursive=True):
    flags = int.from_bytes(open(p, \"rb\").read()[4:8], \"little\")
    if flags != 3:
        print(p, \"is not a checked-hash pyc: flags\", flags)
"
    true' 2>&1)
  [ -z "$out" ] || { fail "$(echo "$out" | paste -sd ';' -)"; return 1; }
  # The bytecode is the workdir's: Python finds it there and it names the workdir's source.
  out=$(docker run --rm --network none --label "$LABEL" --entrypoint python "$ML_PLAIN" -c \
    'import app.pkg; s = app.pkg.__spec__; print(s.cached); print(s.loader.get_code("app.pkg").co_filename)' 2>&1)
  grep -qx '/app/app/pkg/__pycache__/__init__.cpython-311.pyc' <<<"$out" && grep -qx '/app/app/pkg/__init__.py' <<<"$out" \
    || fail "the pyc or its co_filename is not the workdir's: $(echo "$out" | paste -sd ' ' -)"
}

# The defaults can be turned off per service: `raw` copies the context as it is and
# compiles nothing.
test_ml_app_settings_can_be_turned_off() {
  need_image "$ML_PLAIN" || return 1
  local img=$IMG-ml-raw:$RUN_ID out
  build_ml ml-raw "$img" raw || return 1
  out=$(in_image "$img" '
    for p in /app/.git/HEAD /app/.venv/bin/python /app/app/__pycache__/stale.cpython-311.pyc /app/app/pkg/stray.pyc; do
      [ -f "$p" ] || echo "no $p"
    done
    [ -e /app/app/__pycache__/__main__.cpython-311.pyc ] && echo "compiled although compile-bytecode = false"
    true' 2>&1)
  [ -z "$out" ] || { fail "$(echo "$out" | paste -sd ';' -)"; return 1; }
  if vertices "$LOG" | cut -f5 | grep -q 'compile app bytecode'; then
    fail "a compile step ran with compile-bytecode = false"
  fi
}

test_ml_uid_gid() {
  need_image "$ML_PLAIN" || return 1
  local ids; ids=$(docker run --rm --network none --label "$LABEL" --entrypoint sh "$ML_PLAIN" -c 'echo "$(id -u):$(id -g) $(stat -c %u:%g /app)"' 2>&1)
  [ "$ids" = "12345:23456 12345:23456" ] || { fail "ids (user, /app owner) are '$ids', expected 12345:23456 for both"; return 1; }
  [ "$(docker image inspect -f '{{.Config.User}}' "$ML_PLAIN")" = 12345:23456 ] || fail "Config.User is not 12345:23456"
}

test_ml_dev_target_overrides_env_and_run() {
  need_image "$ML_PLAIN" || return 1
  build_ml ml-plain-dev "$ML_DEV" plain-dev || return 1
  local env cmd
  env=$(docker image inspect -f '{{json .Config.Env}}' "$ML_DEV")
  cmd=$(docker image inspect -f '{{json .Config.Cmd}}' "$ML_DEV")
  jq -e 'index("LOG_LEVEL=debug")' <<<"$env" >/dev/null || { fail "the dev target's env lacks LOG_LEVEL=debug: $env"; return 1; }
  [ "$cmd" = '["python","-m","app","--reload"]' ] || { fail "the dev target's cmd is $cmd"; return 1; }
  env=$(docker image inspect -f '{{json .Config.Env}}' "$ML_PLAIN")
  cmd=$(docker image inspect -f '{{json .Config.Cmd}}' "$ML_PLAIN")
  jq -e 'index("LOG_LEVEL=info")' <<<"$env" >/dev/null && [ "$cmd" = '["python","-m","app"]' ] \
    || fail "the production target got the dev overrides: $env $cmd"
}

# A proxy build arg reaches a downloading step (in both cases, as BuildKit sets them), is
# not in the image config, and another value rebuilds nothing.
test_ml_proxy_build_args() {
  need_image "$ML_PLAIN" || return 1
  local got; got=$(in_image "$ML_PLAIN" 'cat /opt/proxy/proxy.txt' 2>&1)
  [ "$got" = "upper=$PROXY_A lower=$PROXY_A" ] || { fail "the build step saw '$got', expected $PROXY_A in both cases"; return 1; }
  if docker image inspect -f '{{json .Config}}' "$ML_PLAIN" | grep -qi 'proxy'; then
    fail "a proxy setting is in the image config"; return 1
  fi
  build_ml ml-proxy "$ML_PROXY" plain --build-arg "ftp_proxy=$PROXY_B" || return 1
  local ran; ran=$(executed "$LOG")
  [ -n "$(vertices "$LOG")" ] || { fail "no vertex in the progress output"; return 1; }
  [ -z "$ran" ] || { fail "another proxy value re-ran steps: $(echo "$ran" | paste -sd '|' -)"; return 1; }
  if docker image inspect -f '{{json .Config}}' "$ML_PROXY" | grep -qi 'proxy'; then
    fail "a proxy setting is in the rebuilt image's config"
  fi
}

# ------------------------------------------------------------------ runner

TESTS=(
  test_preflight
  test_builds
  test_final_image_is_clean
  test_non_root_owns_only_its_workdir
  test_services_share_base_tier
  test_tests_pruned_except_dev
  test_app_edit_runs_only_app_step
  test_tier_change_keeps_earlier_layers
  test_uv_installer
  test_ml_builds
  test_ml_runtime_package_keeps_tier_layers
  test_ml_app_bytecode_and_default_excludes
  test_ml_app_settings_can_be_turned_off
  test_ml_uid_gid
  test_ml_dev_target_overrides_env_and_run
  test_ml_proxy_build_args
)

# --only REGEX: the builds every check needs run too.
selected() {
  [ -z "$ONLY" ] || [ "$1" = test_preflight ] || [[ "${1#test_}" =~ $ONLY ]] && return 0
  case $1 in
    test_builds) [[ "$ONLY" != *ml_* ]] ;;   # not for --only 'ml_...'
    test_ml_builds) [[ "$ONLY" == *ml_* ]] ;;
    *) return 1 ;;
  esac
}

run_tests
