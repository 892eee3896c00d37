#!/usr/bin/env bash
# tests/e2e/run.sh — strata's end-to-end tests, through a real BuildKit.
#
# Builds spec-examples/* with `docker buildx build -f <example>/strata.toml`, runs the images,
# checks what they serve and their configuration, caching, the errors of wrong specs, and the
# warnings buildx shows (the spec's and those about its requirements files).
# Assumes the engine is up (scripts/dockerstack.sh up), localhost/python:3.11-bookworm exists
# (scripts/dockerstack.sh base) and the frontend image exists (scripts/build-frontend-image.sh).
#
# usage: tests/e2e/run.sh [--frontend IMAGE] [--examples DIR] [--work DIR] [--only REGEX] [--keep]
#   --frontend IMAGE  frontend to build with (default $STRATA_FRONTEND_IMAGE, else
#                     strata/frontend:dev, the examples' own
#                     `# syntax=`); another image is passed as BUILDKIT_SYNTAX; `builtin`
#                     passes nothing and checks no frontend image (to test this runner with
#                     Dockerfile doubles of the examples)
#   --examples DIR    directory holding fastapi-hello/ and two-services/ (default spec-examples)
#   --work DIR        scratch directory for copies and logs (default .strata-e2e/ in the repo)
#   --only REGEX      run only the tests whose name matches
#   --keep            keep the scratch copies and the images this run built
# Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is `N passed, N failed`.
# Exit status is non-zero when a test failed. Containers it starts are always removed.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
DEFAULT_FRONTEND=strata/frontend:dev
EXAMPLES=$ROOT/spec-examples
WORK=$ROOT/.strata-e2e
ONLY=
KEEP=0
HEALTH_TIMEOUT=${E2E_HEALTH_TIMEOUT:-90}
BASE_IMAGE=localhost/python:3.11-bookworm
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

while [ $# -gt 0 ]; do
  case "$1" in
    --frontend) FRONTEND=$2; shift 2 ;;
    --examples) EXAMPLES=$(cd "$2" && pwd); shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

RUN_ID=$$-$(date +%s)
LABEL=strata-e2e.run=$RUN_ID
LOGS=$WORK/logs
rm -rf "$LOGS" "$WORK/copies"   # only what this script puts there
mkdir -p "$LOGS"

BUILT=()   # image tags this run built (or tried to)
cleanup() {
  docker ps -aq --filter "label=$LABEL" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
  if [ "$KEEP" = 0 ]; then
    rm -rf "$WORK"/copies
    # Only the tags this run built: other runs and people may use the same names.
    [ ${#BUILT[@]} -gt 0 ] && docker image rm "${BUILT[@]}" >/dev/null 2>&1
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

# build LOGNAME CONTEXT IMAGE [PROGRESS] [extra buildx args...]: build CONTEXT/strata.toml.
# Output (progress and errors) goes to $LOGS/LOGNAME.log; sets LOG.
build() {
  local name=$1 ctx=$2 image=$3 progress=${4:-rawjson}; shift 4 || shift $#
  LOG=$LOGS/$name.log
  BUILT+=("$image")
  local args=(buildx build --network host --load --progress="$progress"
              -f "$ctx/strata.toml" -t "$image")
  [ "$FRONTEND" != "$DEFAULT_FRONTEND" ] && [ "$FRONTEND" != builtin ] && args+=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $ctx" >"$LOG"
  docker "${args[@]}" "$@" "$ctx" >>"$LOG" 2>&1
}

# config IMAGE JQ: a field of the image's config, as compact JSON.
config() { docker image inspect "$1" 2>/dev/null | jq -c ".[0].Config | $2"; }

# check_config IMAGE CMD_JSON PORT: the configuration every example image must have.
check_config() {
  local img=$1 cmd=$2 port=$3 v
  v=$(config "$img" .Cmd)
  [ "$v" = "$cmd" ] || { fail "Cmd is $v, expected $cmd"; return 1; }
  v=$(config "$img" '.Env // [] | map(select(startswith("PATH="))) | .[0] // ""')
  echo "$v" | tr -d '"' | sed 's/^PATH=//' | tr ':' '\n' | grep -qx '/opt/venv/bin' \
    || { fail "PATH does not hold the venv's bin dir /opt/venv/bin: $v"; return 1; }
  v=$(config "$img" '.ExposedPorts // {} | keys')
  echo "$v" | jq -e --arg p "$port/tcp" 'index($p) != null' >/dev/null \
    || { fail "ExposedPorts is $v, expected $port/tcp in it"; return 1; }
  v=$(config "$img" '.Healthcheck.Test // []')
  echo "$v" | jq -e --arg u "http://127.0.0.1:$port/health" \
      '.[0] == "CMD" and (index("curl") != null) and (index($u) != null)' >/dev/null \
    || { fail "Healthcheck.Test is $v, expected [\"CMD\",\"curl\",...,\"http://127.0.0.1:$port/health\"]"; return 1; }
  v=$(config "$img" '.Healthcheck | [.Interval, .Timeout, .StartPeriod, .Retries]')
  [ "$v" = '[10000000000,3000000000,10000000000,3]' ] \
    || { fail "Healthcheck [interval,timeout,start-period,retries] is $v, expected 10s,3s,10s,3"; return 1; }
  v=$(config "$img" '.WorkingDir')
  [ "$v" = '"/app"' ] || { fail "WorkingDir is $v, expected \"/app\""; return 1; }
  v=$(config "$img" '.User // ""' | tr -d '"')
  [[ "$v" =~ ^10001(:10001)?$ ]] || { fail "User is '$v', expected 10001 (numeric, non-root)"; return 1; }
  v=$(config "$img" '.Env // [] | index("PYTHONUNBUFFERED=1")')
  [ "$v" != null ] || { fail "Env lacks PYTHONUNBUFFERED=1 from [image] env"; return 1; }
}

# in_image IMAGE COMMAND...: run COMMAND in a throw-away container of IMAGE (no network).
in_image() { docker run --rm --network none --label "$LABEL" --entrypoint "$2" "$1" "${@:3}"; }

# copy_example NAME DEST: a fresh copy of an example, for tests that edit it.
copy_example() {
  rm -rf "$2"; mkdir -p "$(dirname "$2")"
  cp -a "$EXAMPLES/$1" "$2"
}

HELLO=strata-e2e/fastapi-hello
HELLO_CMD='["uvicorn","hello.main:app","--host","0.0.0.0","--port","8000"]'
API=strata-e2e/two-services-api
WORKER=strata-e2e/two-services-worker

# ------------------------------------------------------------------ tests

test_preflight() {
  docker info >/dev/null 2>&1 || { fail "docker is not reachable at $DOCKER_HOST (scripts/dockerstack.sh up)"; return 1; }
  docker buildx version >/dev/null 2>&1 || { fail "docker buildx is missing"; return 1; }
  command -v jq >/dev/null || { fail "jq is missing (apt-get install jq)"; return 1; }
  has_image "$BASE_IMAGE" || { fail "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"; return 1; }
  [ "$FRONTEND" = builtin ] || has_image "$FRONTEND" || { fail "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"; return 1; }
  [ -f "$EXAMPLES/fastapi-hello/strata.toml" ] || { fail "no $EXAMPLES/fastapi-hello/strata.toml"; return 1; }
}

test_fastapi_hello_builds() {
  build fastapi-hello "$EXAMPLES/fastapi-hello" "$HELLO" rawjson \
    || { fail "build failed: $(grep -m1 -i 'error' "$LOG")"; return 1; }
  has_image "$HELLO" || fail "build succeeded but $HELLO is not in the image store"
}

test_fastapi_hello_config() {
  need_image "$HELLO" || return 1
  check_config "$HELLO" "$HELLO_CMD" 8000 || return 1
  local v; v=$(config "$HELLO" '.Env // [] | index("GREETING=Hello from strata")')
  [ "$v" != null ] || fail "Env lacks GREETING from [image] env"
}

test_fastapi_hello_serves() {
  need_image "$HELLO" || return 1
  start hello "$HELLO" 8000 || return 1
  wait_http hello 8000 /health || { stop hello; return 1; }
  [ "$(echo "$BODY" | jq -r .status 2>/dev/null)" = ok ] || { stop hello; fail "/health answered $BODY"; return 1; }
  wait_http hello 8000 / || { stop hello; return 1; }
  echo "$BODY" | grep -q 'Hello from strata' || { stop hello; fail "/ answered $BODY"; return 1; }
  local uid; uid=$(docker exec "hello-$RUN_ID" id -u 2>&1)
  stop hello
  [ "$uid" = 10001 ] || fail "the app runs as uid '$uid', expected 10001"
}

test_fastapi_hello_rebuild_all_cached() {
  need_image "$HELLO" || return 1
  build fastapi-hello-rebuild "$EXAMPLES/fastapi-hello" "$HELLO" rawjson \
    || { fail "rebuild failed: $(grep -m1 -i 'error' "$LOG")"; return 1; }
  local n ran
  n=$(vertices "$LOG" | awk -F'\t' '$4 > 0' | wc -l)
  [ "$n" -gt 0 ] || { fail "no step in the progress output (unparsable log?)"; return 1; }
  ran=$(executed "$LOG")
  [ -z "$ran" ] || fail "steps ran again with nothing changed: $(echo "$ran" | paste -sd '|' -)"
}

test_fastapi_hello_app_edit_keeps_deps() {
  local dir=$WORK/copies/app-edit img=strata-e2e/fastapi-hello-edit ran marker="edited-by-e2e-$RUN_ID"
  copy_example fastapi-hello "$dir"
  build app-edit-before "$dir" "$img" rawjson || { fail "build of the copy failed: $(grep -m1 -i error "$LOG")"; return 1; }
  printf '\n# %s\n' "$marker" >>"$dir/hello/main.py"
  echo "must not reach the image" >"$dir/hello/notes.local"      # ignored by .dockerignore
  build app-edit-after "$dir" "$img" rawjson || { fail "rebuild after the edit failed: $(grep -m1 -i error "$LOG")"; return 1; }
  ran=$(executed "$LOG")
  if echo "$ran" | grep -qF 'pip install'; then
    fail "an app edit re-ran dependency steps: $(echo "$ran" | grep -F 'pip install' | paste -sd '|' -)"; return 1
  fi
  [ -n "$ran" ] || { fail "nothing ran after the edit (the app copy should have)"; return 1; }
  in_image "$img" cat /app/hello/main.py | grep -qF "$marker" \
    || { fail "the edited hello/main.py is not in the image"; return 1; }
  if in_image "$img" ls /app/hello/notes.local >/dev/null 2>&1; then
    fail "hello/notes.local, excluded by .dockerignore, is in the image"; return 1
  fi
}

test_two_services_build() {
  build two-services-api "$EXAMPLES/two-services" "$API" rawjson --target api \
    || { fail "--target api failed: $(grep -m1 -i error "$LOG")"; return 1; }
  build two-services-worker "$EXAMPLES/two-services" "$WORKER" rawjson --target worker \
    || { fail "--target worker failed: $(grep -m1 -i error "$LOG")"; return 1; }
}

test_two_services_config() {
  need_image "$API" || return 1; need_image "$WORKER" || return 1
  check_config "$API" '["uvicorn","api.main:app","--host","0.0.0.0","--port","8000"]' 8000 || { REASON="api: $REASON"; return 1; }
  check_config "$WORKER" '["uvicorn","worker.main:app","--host","0.0.0.0","--port","8001"]' 8001 || { REASON="worker: $REASON"; return 1; }
}

test_two_services_serve() {
  need_image "$API" || return 1; need_image "$WORKER" || return 1
  start api "$API" 8000 || return 1
  start worker "$WORKER" 8001 || { stop api; return 1; }
  local rc=0
  if ! wait_http api 8000 /health; then rc=1
  elif [ "$(echo "$BODY" | jq -r .service)" != api ]; then fail "api /health answered $BODY"; rc=1
  elif ! wait_http worker 8001 /health; then rc=1
  elif [ "$(echo "$BODY" | jq -r .service)" != worker ]; then fail "worker /health answered $BODY"; rc=1
  elif ! curl -fsS -X POST --data '{"name":"x","quantity":2}' -H 'content-type: application/json' \
        http://127.0.0.1:8000/items | jq -e '.quantity == 2' >/dev/null; then fail "api POST /items failed"; rc=1
  fi
  stop api; stop worker
  return $rc
}

test_two_services_pick_their_tiers() {
  need_image "$API" || return 1; need_image "$WORKER" || return 1
  local probe='import importlib.util as u, sys; print(",".join(m for m in sys.argv[1:] if u.find_spec(m)))'
  local a w
  a=$(in_image "$API" python3 -c "$probe" uvicorn fastapi orjson 2>&1)
  w=$(in_image "$WORKER" python3 -c "$probe" uvicorn fastapi orjson 2>&1)
  [ "$a" = "uvicorn,fastapi" ] || { fail "api has modules '$a', expected uvicorn,fastapi (tiers base+api)"; return 1; }
  [ "$w" = "uvicorn,orjson" ] || fail "worker has modules '$w', expected uvicorn,orjson (tiers base+worker)"
}

test_two_services_share_base_tier() {
  need_image "$API" || return 1; need_image "$WORKER" || return 1
  local a w b common
  a=$(docker image inspect -f '{{json .RootFS.Layers}}' "$API")
  w=$(docker image inspect -f '{{json .RootFS.Layers}}' "$WORKER")
  b=$(docker image inspect -f '{{len .RootFS.Layers}}' "$BASE_IMAGE")
  common=$(jq -n --argjson a "$a" --argjson w "$w" \
    'reduce range(0; [($a|length), ($w|length)] | min) as $i ({n: 0, same: true};
       if .same and $a[$i] == $w[$i] then .n += 1 else .same = false end) | .n')
  # base image, then the user, the venv and the tier 'base': three layers past the base.
  [ "$common" -ge $((b + 3)) ] \
    || fail "api and worker share only $common leading layers (the base image has $b; expected user, venv and tier 'base' too): the shared tier 'base' is not one identical layer"
}

test_two_services_without_target_lists_them() {
  if build two-services-no-target "$EXAMPLES/two-services" strata-e2e/two-services-none plain; then
    fail "a build without --target of a two-service spec succeeded"; return 1
  fi
  # Look after the error line only: the spec's own lines (shown above it) name the services too.
  local err; err=$(sed -n '/ERROR/,$p' "$LOG")
  if ! grep -qw 'api' <<<"$err" || ! grep -qw 'worker' <<<"$err"; then
    fail "the error does not list the services api and worker: $(grep -m1 -i error "$LOG")"
  fi
}

test_misspelt_key_is_reported() {
  local dir=$WORK/copies/typo img=strata-e2e/typo line
  copy_example fastapi-hello "$dir"
  printf '\n[system]\npakages = ["curl"]\n' >>"$dir/strata.toml"
  line=$(grep -n '^pakages' "$dir/strata.toml" | cut -d: -f1)
  if build typo "$dir" "$img" plain; then fail "the build of a spec with 'pakages' succeeded"; return 1; fi
  grep -q 'pakages' "$LOG" || { fail "the error does not name the key 'pakages': $(grep -m1 -i error "$LOG")"; return 1; }
  grep -q 'strata\.toml' "$LOG" || { fail "the error does not name the file strata.toml"; return 1; }
  grep -Eq "strata\.toml:$line([^0-9]|$)|line $line([^0-9]|$)|(^|[^0-9])$line *\| *pakages" "$LOG" \
    || { fail "the error does not give line $line: $(grep -m1 -i error "$LOG")"; return 1; }
  grep -qw 'packages' "$LOG" || { fail "the error does not suggest 'packages'"; return 1; }
  has_image "$img" && { fail "an image was produced from a wrong spec"; return 1; }
  return 0
}

# Warnings go through BuildKit's warning channel and buildx prints each once: the spec's
# own (PIP_NO_CACHE_DIR) and those about its requirements files, which the frontend reads
# from the context (an unpinned requirement; a later tier changing an earlier pin).
test_warnings_reach_buildx_once() {
  local dir=$WORK/copies/warn img=strata-e2e/warn:$RUN_ID
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'six==1.16.0\nidna>=3.0\n' >"$dir/base.txt"
  printf 'six==1.17.0\n' >"$dir/later.txt"
  cat >"$dir/strata.toml" <<SPEC
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
env = { PIP_NO_CACHE_DIR = "1" }
[[python.layers]]
name = "base"
requirements = ["base.txt"]
[[python.layers]]
name = "later"
requirements = ["later.txt"]
[app]
include = []
SPEC
  build warn "$dir" "$img" plain || { fail "the build failed: $(grep -m1 -i error "$LOG")"; return 1; }
  local w
  for w in '`PIP_NO_CACHE_DIR` has no effect' \
           '`idna>=3.0` in `base.txt` is not pinned to one version' \
           'tier `later` asks for `six==1.17.0`, which tier `base` pinned to 1.16.0'; do
    # In the progress (`#N WARN: ...`) when it arrives before that vertex is printed, and
    # always in the summary after the build (` - strata.toml: ...`).
    grep -qF -- " strata.toml: $w" "$LOG" || { fail "buildx did not show the warning '$w'"; return 1; }
  done
  grep -q '3 warnings found' "$LOG" || fail "expected exactly 3 warnings: $(grep -m1 'warnings\? found' "$LOG")"
}

# ------------------------------------------------------------------ runner

# `--add-host` and `--shm-size` apply to the build's commands, as they do to a
# Dockerfile's RUN: a [[build]] step records what it saw.
test_add_host_and_shm_size_reach_steps() {
  local dir=$WORK/copies/hosts img=strata-e2e/hosts:$RUN_ID out
  rm -rf "$dir"; mkdir -p "$dir"
  echo probe >"$dir/probe.txt"
  cat >"$dir/strata.toml" <<SPEC
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[[build]]
name = "probe"
context = ["probe.txt"]
run = ["mkdir -p out", "getent hosts strata-e2e.test >out/hosts", "df -k /dev/shm | tail -n 1 >out/shm"]
outputs = { "/src/out" = "/opt/probe" }
[app]
include = []
SPEC
  build hosts "$dir" "$img" plain --add-host strata-e2e.test=10.11.12.13 --shm-size 300m \
    || { fail "the build failed: $(grep -m1 -i error "$LOG")"; return 1; }
  out=$(docker run --rm --network none --label "$LABEL" --entrypoint cat "$img" /opt/probe/hosts 2>&1)
  [[ "$out" =~ ^10\.11\.12\.13[[:space:]]+strata-e2e\.test$ ]] || { fail "the step saw '$out' for strata-e2e.test"; return 1; }
  out=$(docker run --rm --network none --label "$LABEL" --entrypoint cat "$img" /opt/probe/shm 2>&1)
  awk '{ exit !($2 == 307200) }' <<<"$out" || fail "the step's /dev/shm is '$out', expected 307200 1K-blocks (300m)"
}

TESTS=(
  test_preflight
  test_fastapi_hello_builds
  test_fastapi_hello_config
  test_fastapi_hello_serves
  test_fastapi_hello_rebuild_all_cached
  test_fastapi_hello_app_edit_keeps_deps
  test_two_services_build
  test_two_services_config
  test_two_services_serve
  test_two_services_pick_their_tiers
  test_two_services_share_base_tier
  test_two_services_without_target_lists_them
  test_misspelt_key_is_reported
  test_warnings_reach_buildx_once
  test_add_host_and_shm_size_reach_steps
)

run_tests
