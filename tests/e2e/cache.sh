#!/usr/bin/env bash
# tests/e2e/cache.sh — strata's cache import/export through a real BuildKit and the local
# registry: what a CI runner that starts cold gets from `--cache-from`.
#
# For each kind of cache (registry mode=max, local mode=max, inline), on an app of its own
# (a spec with [system] packages, two dependency tiers and an app dir, made in a temp dir):
#   1. build with the cache exported;
#   2. `docker buildx prune -af` (and remove the image), rebuild with `--cache-from`:
#      no step executes;
#   3. prune again, edit one app file, rebuild with `--cache-from`: only the app step
#      executes (the app copy, and the merge that stacks the layers);
#   4. (registry max, inline) prune again, edit tier web's requirements: mode=max runs only
#      that tier; inline (mode=min) runs the builder chain up to it (see
#      INLINE_REQ_EDIT_STEPS for why).
# What may run in a fully cached build, exactly: the [internal] loads (the spec, the
# .dockerignore, the context views, image metadata, the package-manager inspection of the
# base), the base image source (`[app] FROM ...`), the frontend image, importing the cache
# manifest, and exporting. Every other vertex must be a cache hit.
#
# Assumes the engine is up (scripts/dockerstack.sh up) with the registry on 127.0.0.1:5000,
# localhost/python:3.11-bookworm (scripts/dockerstack.sh base) and the frontend image
# (scripts/build-frontend-image.sh). The builds need the network (apt, PyPI).
#
# usage: tests/e2e/cache.sh [--frontend IMAGE] [--work DIR] [--only REGEX] [--keep]
#   --frontend IMAGE  frontend to build with (default $STRATA_FRONTEND_IMAGE, else
#                     strata/frontend:dev); passed as BUILDKIT_SYNTAX
#   --work DIR        scratch directory (default: a new temp dir, removed at the end)
#   --only REGEX      run only the tests whose name matches (preflight always runs)
#   --keep            keep the scratch dir, the images and the registry tags
# NOTE: `docker buildx prune -af` empties the daemon's whole build cache, other builds'
# included.
# Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is `N passed, N failed`.
# Exit status is non-zero when a test failed.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
WORK=
ONLY=
KEEP=0
REGISTRY=127.0.0.1:5000
BASE_IMAGE=localhost/python:3.11-bookworm
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

while [ $# -gt 0 ]; do
  case "$1" in
    --frontend) FRONTEND=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

RUN_ID=$$-$(date +%s)
if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/strata-e2e-cache.XXXXXX); OWN_WORK=1; else OWN_WORK=0; mkdir -p "$WORK"; fi
LOGS=$WORK/logs
mkdir -p "$LOGS"
REPO=strata-e2e/cache            # registry repository for this run's tags
TAGS=()                          # registry tags this run pushed
IMAGES=()                        # local images this run built

cleanup() {
  if [ "$KEEP" = 0 ]; then
    [ ${#IMAGES[@]} -gt 0 ] && docker image rm -f "${IMAGES[@]}" >/dev/null 2>&1
    local t d
    for t in "${TAGS[@]}"; do   # registry tags: delete their manifests (delete is enabled)
      d=$(curl -sfI -H 'Accept: application/vnd.oci.image.index.v1+json' \
            -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
            -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
            -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
            "http://$REGISTRY/v2/$REPO/manifests/$t" 2>/dev/null \
          | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')
      [ -n "$d" ] && curl -sf -X DELETE "http://$REGISTRY/v2/$REPO/manifests/$d" >/dev/null 2>&1
    done
    # The logs stay when a test failed (their path is printed with the failure).
    if [ "$OWN_WORK" = 1 ] && [ "${failed:-0}" = 0 ]; then rm -rf "$WORK"
    else rm -rf "$WORK/app" "$WORK/cache-local"; fi
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

APP=$WORK/app
IMG=strata-e2e/cache-app:$RUN_ID
MAX_TAG=max-$RUN_ID          # registry cache, mode=max
INLINE_TAG=inline-$RUN_ID    # image with inline cache
# The app's user, unique to this run: its steps (from `create user` on) are then no other
# build's, so builds that run on the same daemon meanwhile cannot share (and run) them.
APP_USER=u$(printf '%s' "$RUN_ID" | sha256sum | cut -c1-12)

# make_app: the app every test builds (fresh, so edits of one test do not leak).
make_app() {
  rm -rf "$APP"; mkdir -p "$APP/app"
  cat >"$APP/strata.toml" <<EOF
# syntax=$FRONTEND
version = 1

[image]
base = "$BASE_IMAGE"
user = "$APP_USER"

[system]
packages = ["jq"]

[[python.layers]]
name = "base"
requirements = ["requirements-base.txt"]

[[python.layers]]
name = "web"
requirements = ["requirements-web.txt"]

[app]
include = ["app/"]

[run]
cmd = ["python3", "-m", "app.main"]
EOF
  echo 'six==1.16.0' >"$APP/requirements-base.txt"
  echo 'idna==3.7' >"$APP/requirements-web.txt"
  : >"$APP/app/__init__.py"
  printf 'import six, idna\nprint("cache-e2e", six.__version__, idna.__version__)\n' >"$APP/app/main.py"
  printf '**/__pycache__\n' >"$APP/.dockerignore"
}

# build LOGNAME [buildx args...]: build $APP (rawjson progress); sets LOG.
build() {
  local name=$1; shift
  LOG=$LOGS/$name.log
  local args=(buildx build --network host --progress=rawjson -f "$APP/strata.toml"
              --build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $APP" >"$LOG"
  docker "${args[@]}" "$@" "$APP" >>"$LOG" 2>&1
}

# cold: forget everything a build could reuse: the build cache and the image.
cold() {
  # The inline test's image is kept locally by the push too: its layers would be found there.
  docker image rm -f "$IMG" "$REGISTRY/$REPO:$INLINE_TAG" >/dev/null 2>&1
  docker buildx prune -af >/dev/null 2>&1 || { fail "docker buildx prune -af failed"; return 1; }
}

# What may run in a build whose steps are all cached: the vertices without inputs. Those
# are the sources (the base image, which BuildKit reports as run even when nothing is
# pulled; the spec, the .dockerignore and the context views, sent again by every build;
# the package-manager inspection, which is the base image too) and BuildKit's own
# (resolving image configs, importing the cache manifest, exporting). No vertex with
# inputs (no exec, file, diff or merge op) may execute.
# Names are not used to decide: a vertex whose op another build on the daemon has too
# carries that build's name.

# steps LOG: the names of the build's steps (what must be cached): the vertices with inputs.
steps() {
  vertices "$1" | awk -F'\t' '$4 > 0 {print $5}' | sort -u
}

# cached_steps LOG: the steps that were cache hits (and did not execute after all).
cached_steps() {
  vertices "$1" | awk -F'\t' '$1 == "false" && $2 == "true" && $4 > 0 {print $5}' | sort -u
}

joined() { paste -sd '|' -; }

# registry_has TAG: the registry holds a manifest (or index) for $REPO:TAG.
registry_has() {
  curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.index.v1+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
    "http://$REGISTRY/v2/$REPO/manifests/$1"
}

# in_image CMD...: run in the image built last.
in_image() { docker run --rm --network none "$IMG" "$@"; }

# The file op that stages the app's files on the builder image for the bytecode compile
# ([app] compile-bytecode): on a build from an imported cache, BuildKit runs it again
# even when the compile after it and everything else are cache hits (seen with BuildKit
# 0.13, mode=max and inline alike; after a local build it is a hit). It copies the app's
# context view, installs nothing, and what it makes reaches no layer unless the compile
# runs. Moving the copy into the compile's command (a read-only mount of the view) made
# the compile itself run again on inline imports, which costs more.
STAGING='[app] app: sources at /strata-app'

# imported_executed LOG: what executed in a build from an imported cache, less $STAGING.
imported_executed() { executed "$1" | grep -vxF "$STAGING" || true; }

# expect_all_cached LOG FIRST_LOG: nothing executed, and every step of the first build hit.
expect_all_cached() {
  local ran missing
  ran=$(imported_executed "$1")
  [ -z "$ran" ] || { fail "steps executed although everything is in the cache: $(echo "$ran" | joined)"; return 1; }
  missing=$(comm -23 <(steps "$2" | grep -vxF "$STAGING") <(cached_steps "$1"))
  [ -z "$missing" ] || { fail "steps of the first build that were not cache hits: $(echo "$missing" | joined)"; return 1; }
  [ "$(steps "$2" | wc -l)" -ge 8 ] || { fail "the first build has only $(steps "$2" | wc -l) steps (unparsable log?)"; return 1; }
}

# The steps an app edit must run, and nothing else: the app copy, and the merge that
# stacks the layers (it has the new app layer as input; it executes nothing).
# The app's steps: staged on the builder image, compiled ([app] compile-bytecode), copied.
APP_EDIT_STEPS=$'[app] app: sources at /strata-app\n[app] assemble image layers\n[app] compile app bytecode (checked-hash)\n[app] copy app to /app'

# edit_app: change one file of the app.
edit_app() { printf 'print("edited %s")\n' "$RUN_ID" >>"$APP/app/main.py"; }

# expect_only_app_ran LOG
expect_only_app_ran() {
  local ran; ran=$(executed "$1")
  [ "$ran" = "$APP_EDIT_STEPS" ] \
    || { fail "after an app edit, expected exactly [$(echo "$APP_EDIT_STEPS" | joined)] to execute, got [$(echo "$ran" | joined)]"; return 1; }
  in_image python3 -m app.main 2>&1 | grep -q "^edited $RUN_ID" \
    || { fail "the image does not run the edited app: $(in_image python3 -m app.main 2>&1 | tail -n1)"; return 1; }
}

# ------------------------------------------------------------------ tests

test_preflight() {
  docker info >/dev/null 2>&1 || { fail "docker is not reachable at $DOCKER_HOST (scripts/dockerstack.sh up)"; return 1; }
  docker buildx version >/dev/null 2>&1 || { fail "docker buildx is missing"; return 1; }
  command -v jq >/dev/null || { fail "jq is missing (apt-get install jq)"; return 1; }
  curl -sf "http://$REGISTRY/v2/" >/dev/null || { fail "no registry on $REGISTRY (scripts/dockerstack.sh up)"; return 1; }
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || { fail "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"; return 1; }
  docker image inspect "$FRONTEND" >/dev/null 2>&1 || { fail "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"; return 1; }
}

# --- registry, mode=max

test_registry_max_export() {
  make_app; cold || return 1
  IMAGES+=("$IMG"); TAGS+=("$MAX_TAG")
  build registry-max-export --load -t "$IMG" \
    --cache-to "type=registry,ref=$REGISTRY/$REPO:$MAX_TAG,mode=max" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  registry_has "$MAX_TAG" || { fail "no cache manifest at $REGISTRY/$REPO:$MAX_TAG after --cache-to"; return 1; }
  in_image python3 -m app.main | grep -q '^cache-e2e 1.16.0 3.7$' || fail "the image does not run the app"
}

test_registry_max_import_all_cached() {
  registry_has "$MAX_TAG" || { fail "no cache to import (the export test failed)"; return 1; }
  cold || return 1
  build registry-max-import --load -t "$IMG" \
    --cache-from "type=registry,ref=$REGISTRY/$REPO:$MAX_TAG" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  expect_all_cached "$LOG" "$LOGS/registry-max-export.log"
}

test_registry_max_app_edit() {
  registry_has "$MAX_TAG" || { fail "no cache to import (the export test failed)"; return 1; }
  cold || return 1
  edit_app
  build registry-max-app-edit --load -t "$IMG" \
    --cache-from "type=registry,ref=$REGISTRY/$REPO:$MAX_TAG" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  expect_only_app_ran "$LOG"
}

# A requirements edit of the last tier, with mode=max: that tier's install, its layer and
# the merge; the tiers below and the app stay cached.
MAX_REQ_EDIT_STEPS=$'[app] assemble image layers\n[app] layer: tier web\n[app] pip install tier web'

# edit_requirements: change tier web's requirements (another version of the same package).
edit_requirements() { echo 'idna==3.6' >"$APP/requirements-web.txt"; }

# expect_ran LOG EXPECTED WHAT: exactly EXPECTED (sorted names, one a line) executed.
expect_ran() {
  local ran; ran=$(imported_executed "$1")
  [ "$ran" = "$2" ] \
    || { fail "after $3, expected exactly [$(echo "$2" | joined)] to execute, got [$(echo "$ran" | joined)]"; return 1; }
}

test_registry_max_requirements_edit() {
  registry_has "$MAX_TAG" || { fail "no cache to import (the export test failed)"; return 1; }
  make_app; cold || return 1
  edit_requirements
  build registry-max-requirements-edit --load -t "$IMG" \
    --cache-from "type=registry,ref=$REGISTRY/$REPO:$MAX_TAG" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  expect_ran "$LOG" "$MAX_REQ_EDIT_STEPS" "a requirements edit of tier web" || return 1
  in_image python3 -m app.main | grep -q '^cache-e2e 1.16.0 3.6$' || fail "the image does not have idna 3.6"
}

# --- local directory, mode=max
test_local_max() {
  make_app; cold || return 1
  local dir=$WORK/cache-local
  rm -rf "$dir"
  build local-max-export --load -t "$IMG" --cache-to "type=local,dest=$dir,mode=max" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  [ -s "$dir/index.json" ] || { fail "no $dir/index.json after --cache-to type=local"; return 1; }
  local first=$LOG
  cold || return 1
  build local-max-import --load -t "$IMG" --cache-from "type=local,src=$dir" \
    || { fail "rebuild failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  expect_all_cached "$LOG" "$first" || { REASON="unchanged: $REASON"; return 1; }
  cold || return 1
  edit_app
  build local-max-app-edit --load -t "$IMG" --cache-from "type=local,src=$dir" \
    || { fail "rebuild after the edit failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  expect_only_app_ran "$LOG" || { REASON="app edit: $REASON"; return 1; }
}

# --- inline (BUILDKIT_INLINE_CACHE=1, pushed with the image)

test_inline_export() {
  make_app; cold || return 1
  TAGS+=("$INLINE_TAG"); IMAGES+=("$REGISTRY/$REPO:$INLINE_TAG")
  build inline-export --build-arg BUILDKIT_INLINE_CACHE=1 \
    --output "type=image,name=$REGISTRY/$REPO:$INLINE_TAG,push=true" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  registry_has "$INLINE_TAG" || { fail "the image was not pushed to $REGISTRY/$REPO:$INLINE_TAG"; return 1; }
  local cfg
  cfg=$(docker buildx imagetools inspect --raw "$REGISTRY/$REPO:$INLINE_TAG" 2>/dev/null | jq -r '.config.digest // empty')
  if [ -n "$cfg" ]; then
    curl -sf "http://$REGISTRY/v2/$REPO/blobs/$cfg" | jq -e '."moby.buildkit.cache.v0" != null' >/dev/null \
      || { fail "the pushed image config has no inline cache (moby.buildkit.cache.v0)"; return 1; }
  fi
}

test_inline_import_all_cached() {
  registry_has "$INLINE_TAG" || { fail "no image to import from (the export test failed)"; return 1; }
  cold || return 1
  IMAGES+=("$IMG")
  build inline-import --load -t "$IMG" --cache-from "type=registry,ref=$REGISTRY/$REPO:$INLINE_TAG" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  local ran; ran=$(imported_executed "$LOG")
  [ -z "$ran" ] || { fail "steps executed although the image's inline cache covers them: $(echo "$ran" | joined)"; return 1; }
  # mode=min: the final result hits, so BuildKit needs none of the steps below it.
  vertices "$LOG" | awk -F'\t' '$1 == "false" && $2 == "true"' | cut -f5 | grep -qx '\[app\] assemble image layers' \
    || { fail "the final step '[app] assemble image layers' was not a cache hit"; return 1; }
  in_image python3 -m app.main | grep -q '^cache-e2e 1.16.0 3.7$' || fail "the image does not run the app"
}

test_inline_app_edit() {
  registry_has "$INLINE_TAG" || { fail "no image to import from (the export test failed)"; return 1; }
  cold || return 1
  edit_app
  build inline-app-edit --load -t "$IMG" --cache-from "type=registry,ref=$REGISTRY/$REPO:$INLINE_TAG" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  expect_only_app_ran "$LOG"
}

# Inline cache is mode=min: it holds the results that are layers of the image. With
# strata's layering those are every tier's layer, the venv's and the app's, so an app
# edit reuses all the tiers (above). A tier whose requirements change is installed on
# top of the tier below's *builder* filesystem: with the runtime packages off the builder
# that filesystem is the base image, the venv's layer and the lower tiers' layers, which
# the image holds, and BuildKit takes it from the inline cache (seen with BuildKit 0.13);
# only the installer's tool venv (not a layer of the image) is made again. The layers of
# the unchanged tiers below are cache hits.
INLINE_REQ_EDIT_STEPS=$'[app] assemble image layers
[app] builder: install pip
[app] layer: tier web
[app] pip install tier web'

test_inline_requirements_edit() {
  registry_has "$INLINE_TAG" || { fail "no image to import from (the export test failed)"; return 1; }
  make_app; cold || return 1
  edit_requirements
  build inline-requirements-edit --load -t "$IMG" \
    --cache-from "type=registry,ref=$REGISTRY/$REPO:$INLINE_TAG" \
    || { fail "build failed: $(grep -m1 ERROR "$LOG")"; return 1; }
  expect_ran "$LOG" "$INLINE_REQ_EDIT_STEPS" "a requirements edit of tier web (inline cache)" || return 1
  vertices "$LOG" | awk -F'\t' '$1 == "false" && $2 == "true"' | cut -f5 | grep -qx '\[app\] layer: tier base' \
    || { fail "the layer of the unchanged tier base was not a cache hit"; return 1; }
  in_image python3 -m app.main | grep -q '^cache-e2e 1.16.0 3.6$' || fail "the image does not have idna 3.6"
}

# ------------------------------------------------------------------ runner

TESTS=(
  test_preflight
  test_registry_max_export
  test_registry_max_import_all_cached
  test_registry_max_app_edit
  test_registry_max_requirements_edit
  test_local_max
  test_inline_export
  test_inline_import_all_cached
  test_inline_app_edit
  test_inline_requirements_edit
)

run_tests
