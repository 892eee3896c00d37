#!/usr/bin/env bash
# tests/e2e/bad-specs.sh — wrong specs through `strata check` and `docker buildx build`.
#
# For each bad spec (in a fresh temporary context): `strata check` (when the problem is in
# the spec itself) and `docker buildx build --network host -f strata.toml CONTEXT` must
# fail, within a timeout, with output that names the file and the line
# (`strata.toml:LINE`) and says what is wrong, and never contains "panicked". Problems
# that only the build context or the daemon can show (missing or symlinked files, an
# image that cannot be resolved, an apt package that does not exist) go through buildx
# only: `strata check` cannot know them and accepts the spec.
#
# Assumes the engine is up and the frontend image exists (scripts/build-frontend-image.sh).
#
# usage: tests/e2e/bad-specs.sh [STRATA_BIN] [--only REGEX] [--keep]
#   STRATA_BIN   the strata binary for `check` (default target/debug/strata, else
#                $CARGO_TARGET_DIR/debug/strata)
#   STRATA_FRONTEND_IMAGE   frontend image (default strata/frontend:dev)
#   BAD_SPECS_TIMEOUT       seconds allowed per command (default 120)
# Prints `ok NAME` or `FAIL NAME: reason` per test, then `N passed, N failed`.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
TIMEOUT=${BAD_SPECS_TIMEOUT:-120}
BASE=localhost/python:3.11-bookworm
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
export NO_COLOR=1 BUILDKIT_PROGRESS=plain

STRATA=
ONLY=
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
    *) STRATA=$1; shift ;;
  esac
done
if [ -z "$STRATA" ]; then
  for c in "$ROOT/target/debug/strata" "${CARGO_TARGET_DIR:-/nonexistent}/debug/strata"; do
    [ -x "$c" ] && { STRATA=$c; break; }
  done
fi
[ -x "$STRATA" ] || { echo "no strata binary (build it: cargo build -p strata, or pass its path)" >&2; exit 2; }
STRATA=$(cd "$(dirname "$STRATA")" && pwd)/$(basename "$STRATA")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-bad-specs.XXXXXX")
cleanup() { [ "$KEEP" = 1 ] && echo "kept $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }

# ---------------------------------------------------------------- one case
#
# NAME: the test's name; SPEC: the spec after the `# syntax=` line (line 1), so the
# spec's line N is line N of what you see here plus one; LINE: the line the message
# must name; SAYS: texts the output must contain (a `|`-separated list); MODE: `both`
# (check and buildx) or `buildx`; SETUP: a function run in the context before building;
# ARGS: extra buildx/check arguments (e.g. --target x).
NAME= SPEC= LINE= SAYS= MODE=both SETUP= ARGS=()

# expect OUTPUT_FILE STATUS WHAT: the common assertions.
expect() {
  local out=$1 status=$2 what=$3 s
  if [ "$status" -eq 124 ]; then REASON="$what: timed out after ${TIMEOUT}s"; return 1; fi
  if [ "$status" -eq 0 ]; then REASON="$what: exited 0"; return 1; fi
  if grep -q panicked "$out"; then REASON="$what: panicked"; return 1; fi
  if [ -n "$LINE" ] && ! grep -qE "strata\.toml:$LINE([^0-9]|\$)" "$out"; then
    REASON="$what: does not name strata.toml:$LINE"; return 1
  fi
  local IFS='|'
  for s in $SAYS; do
    grep -qF -- "$s" "$out" || { REASON="$what: does not say '$s'"; return 1; }
  done
  return 0
}

run_case() {
  [ -n "$ONLY" ] && ! [[ "$NAME" =~ $ONLY ]] && { NAME= SPEC= LINE= SAYS= MODE=both SETUP= ARGS=(); return 0; }
  local slug ctx out status
  slug=$(echo "$NAME" | tr -c 'a-zA-Z0-9\n' '-')
  ctx=$WORK/$slug
  mkdir -p "$ctx"
  printf '# syntax=%s\n%s' "$FRONTEND" "$SPEC" >"$ctx/strata.toml"
  [ -n "$SETUP" ] && (cd "$ctx" && $SETUP)
  REASON=

  local check_args=() a
  # `check` validates every target and variant: it takes --build-arg but not --target.
  for ((i = 0; i < ${#ARGS[@]}; i++)); do
    a=${ARGS[$i]}
    if [ "$a" = --build-arg ]; then check_args+=("$a" "${ARGS[$((i + 1))]}"); i=$((i + 1)); fi
  done
  local passed=1
  if [ "$MODE" = both ]; then
    out=$WORK/$slug.check.log
    (cd "$ctx" && timeout "$TIMEOUT" "$STRATA" check strata.toml "${check_args[@]}") >"$out" 2>&1
    status=$?
    expect "$out" "$status" "strata check" || passed=0
  fi
  if [ "$passed" = 1 ]; then
    out=$WORK/$slug.buildx.log
    timeout "$TIMEOUT" docker buildx build --network host --progress=plain \
      -f "$ctx/strata.toml" "${ARGS[@]}" "$ctx" >"$out" 2>&1
    status=$?
    expect "$out" "$status" "docker buildx build" || passed=0
  fi
  if [ "$passed" = 1 ]; then ok "$NAME"; else fail "$NAME" "$REASON (log: ${out#"$WORK"/})"; fi
  NAME= SPEC= LINE= SAYS= MODE=both SETUP= ARGS=()
}

# --------------------------------------------------------------- preconditions
docker image inspect "$FRONTEND" >/dev/null 2>&1 || { echo "no frontend image $FRONTEND (scripts/build-frontend-image.sh)" >&2; exit 2; }

HEAD="version = 1
[image]
base = \"$BASE\"
"
# Line numbers below: line 1 is `# syntax=`, HEAD is lines 2-4.

# --------------------------------------------------------------- the spec itself
NAME="invalid TOML"; LINE=4; SAYS="invalid TOML"
SPEC="version = 1
[image]
base = \"$BASE
"; run_case

NAME="empty spec"; LINE=1; SAYS="the spec is empty|version = 1"
SPEC=""; run_case

NAME="missing version"; LINE=2; SAYS="missing \`version\`|version = 1"
SPEC="[image]
base = \"$BASE\"
"; run_case

NAME="wrong version"; LINE=2; SAYS="unsupported spec version 2"
SPEC="version = 2
[image]
base = \"$BASE\"
"; run_case

NAME="not UTF-8"; LINE=5; SAYS="not valid UTF-8"
SPEC="$HEAD# caf$(printf '\351')
"; run_case

NAME="unknown key"; LINE=6; SAYS="unknown key \`pakages\` in [system]|did you mean \`packages\`?"
SPEC="$HEAD[system]
pakages = [\"curl\"]
"; run_case

NAME="unknown table"; LINE=5; SAYS="unknown table [pyton]|did you mean [python]?"
SPEC="$HEAD[pyton]
venv = \"/opt/venv\"
"; run_case

NAME="key in the wrong table"; LINE=5; SAYS="unknown key \`packages\` in [image]|belongs in [system]"
SPEC="${HEAD}packages = [\"curl\"]
"; run_case

NAME="wrong type"; LINE=6; SAYS="invalid type for \`cmd\` in [run]|expected an array of strings, found a string"
SPEC="$HEAD[run]
cmd = \"python -m app\"
"; run_case

NAME="empty base"; LINE=4; SAYS="must not be empty"
SPEC="version = 1
[image]
base = \"\"
"; run_case

NAME="no base"; LINE=2; SAYS="no base image"
SPEC="version = 1
[run]
cmd = [\"python\"]
"; run_case

NAME="unknown build argument"; SAYS="unknown build argument \`\${PYTHON_IMG}\`|did you mean \`\${PYTHON_IMAGE}\`?"
SPEC="version = 1
[args]
PYTHON_IMAGE = \"$BASE\"
[image]
base = \"\${PYTHON_IMG}\"
"; LINE=6; run_case

NAME="unknown target"; LINE=5; SAYS="unknown target \`wroker\`|did you mean \`worker\`?|the targets are"
MODE=buildx; ARGS=(--target wroker)
SPEC="$HEAD[services.api]
[services.worker]
"; run_case

NAME="unknown target without services"; LINE=2; SAYS="unknown target \`api\`"
MODE=buildx; ARGS=(--target api)
SPEC="$HEAD"; run_case

NAME="unknown variant"; LINE=5; SAYS="unknown variant \`cdua\`|did you mean \`cuda\`?"
ARGS=(--build-arg VARIANT=cdua)
SPEC="$HEAD[variants.cuda]
image.base = \"nvidia/cuda:12.4.0-runtime-ubuntu22.04\"
"; run_case

NAME="requirements leave the context"; LINE=7; SAYS="leaves the build context"
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"../requirements.txt\"]
"; run_case

NAME="absolute include"; LINE=6; SAYS="not absolute"
SPEC="$HEAD[app]
include = [\"/etc/passwd\"]
"; run_case

NAME="duplicate tier"; LINE=9; SAYS="duplicate tier name \`base\`"
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"a.txt\"]
[[python.layers]]
name = \"base\"
requirements = [\"b.txt\"]
"; run_case

NAME="service names an unknown tier"; LINE=9; SAYS="unknown tier \`web\`|the tiers are \`base\`"
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"a.txt\"]
[services.api]
layers = [\"base\", \"web\"]
"; run_case

NAME="invalid port"; LINE=6; SAYS="port 80000 is out of range"
SPEC="$HEAD[run]
expose = [80000]
"; run_case

NAME="invalid duration"; LINE=6; SAYS="\`3\` is not a duration|add a unit"
SPEC="$HEAD[run]
healthcheck = { cmd = [\"true\"], timeout = \"3\" }
"; run_case

NAME="invalid signal"; LINE=6; SAYS="unknown signal \`SIGKIL\`|did you mean \`SIGKILL\`?"
SPEC="$HEAD[run]
stop-signal = \"SIGKIL\"
"; run_case

NAME="healthcheck without a command"; LINE=5; SAYS="missing \`cmd\` in [run.healthcheck]"
SPEC="$HEAD[run.healthcheck]
interval = \"30s\"
"; run_case

# Issue 13: tiers and build steps together.
NAME="wheels naming no build step"; LINE=7; SAYS="\`wheels\` of tier \`native\` names no build step: \`ttnm\`|did you mean \`ttnn\`?"
SPEC="$HEAD[[python.layers]]
name = \"native\"
wheels = [\"ttnm\"]
[[build]]
name = \"ttnn\"
wheels-dir = \"/src/dist\"
"; run_case

NAME="venv naming no earlier tier"; LINE=13; SAYS="runs in the venv after tier \`torch\`, but tier \`native\` installs its wheels"
SPEC="$HEAD[[python.layers]]
name = \"native\"
wheels = [\"ttnn\"]
[[python.layers]]
name = \"torch\"
requirements = [\"requirements.txt\"]
[[build]]
name = \"ttnn\"
venv = \"torch\"
wheels-dir = \"/src/dist\"
"; run_case

NAME="secret id BuildKit rejects"; LINE=7; SAYS="\`hf token\` is not a valid secret id|secret ids are letters, digits"
SPEC="$HEAD[[build]]
name = \"model\"
secrets = [\"hf token\"]
"; run_case

NAME="build-isolation with build-constraints"; LINE=8; SAYS="the installer cannot honour both"
SPEC="$HEAD[[python.layers]]
name = \"ext\"
requirements = [\"requirements.txt\"]
build-isolation = false
build-constraints = [\"constraints-build.txt\"]
"; run_case

# ------------------------------------------- what only the context or the daemon knows
NAME="missing requirements file"; LINE=7; SAYS="requirements.txt|not in the build context"
MODE=buildx
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"requirements.txt\"]
"; run_case

NAME="missing build-constraints file"; LINE=8; SAYS="constraints-build.txt|not in the build context"
MODE=buildx; SETUP=setup_reqs_only
setup_reqs_only() { echo 'six==1.16.0' >requirements.txt; }
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"requirements.txt\"]
build-constraints = [\"constraints-build.txt\"]
"; run_case

NAME="missing include path"; LINE=6; SAYS="src|not in the build context"
MODE=buildx; SETUP=setup_main_py
setup_main_py() { echo 'print(1)' >main.py; }
SPEC="$HEAD[app]
include = [\"main.py\", \"src/\"]
"; run_case

NAME="requirements excluded by .dockerignore"; LINE=7; SAYS="requirements.txt|.dockerignore"
MODE=buildx; SETUP=setup_ignored
setup_ignored() { echo 'six==1.16.0' >requirements.txt; echo '*.txt' >.dockerignore; }
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"requirements.txt\"]
"; run_case

NAME="missing build step context"; LINE=7; SAYS="native|not in the build context"
MODE=buildx
SPEC="$HEAD[[build]]
name = \"native\"
context = [\"native/\"]
run = [\"make\"]
"; run_case

# A symlink to a file outside the context: BuildKit sends the link, never its target,
# so the file is not in the context and the build stops before anything runs.
OUTSIDE=$WORK/outside-requirements.txt
echo "six==1.16.0" >"$OUTSIDE"
NAME="requirements symlinked out of the context (absolute)"; LINE=7; SAYS="requirements.txt"
MODE=buildx; SETUP=setup_abs_link
setup_abs_link() { ln -s "$OUTSIDE" requirements.txt; }
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"requirements.txt\"]
"; run_case

NAME="requirements symlinked out of the context (relative)"; LINE=7; SAYS="requirements.txt"
MODE=buildx; SETUP=setup_rel_link
setup_rel_link() { ln -s ../outside-requirements.txt requirements.txt; }
SPEC="$HEAD[[python.layers]]
name = \"base\"
requirements = [\"requirements.txt\"]
"; run_case

NAME="base image that cannot be resolved"; LINE=4; SAYS="cannot resolve image \`localhost/nope:1\`"
MODE=buildx
SPEC="version = 1
[image]
base = \"localhost/nope:1\"
"; run_case

# apt's own message reaches the user, under the step's name. (BuildKit names the step,
# not the spec's line: LINE is the step's progress line here, see docs/errors.md.)
NAME="apt package that does not exist"; LINE=; SAYS="apt-get install curl no-such-package-strata|Unable to locate package no-such-package-strata"
MODE=buildx
SPEC="$HEAD[system]
packages = [\"curl\", \"no-such-package-strata\"]
"; run_case

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
