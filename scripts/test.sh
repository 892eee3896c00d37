#!/usr/bin/env bash
# scripts/test.sh — strata's one test command (CI runs it through .ci/run).
#
#   1. installs what is missing (Debian packages; the Rust toolchain must already be there)
#   2. cargo test --workspace --locked            (unit and golden tests)
#   3. scripts/dockerstack.sh up + base           (Docker 26.1/BuildKit, registry, python base;
#                                                  started in the background during step 2)
#   4. scripts/build-frontend-image.sh            (strata/frontend:dev from a static binary)
#   5. tests/e2e/*.sh                             (examples, bad specs, layers, shapes, ML builds, caches,
#                                                  platforms, faults: on a private dockerd + registry of its own)
#   6. stops what step 3 started (and only that), on success or failure
#
# usage: scripts/test.sh [--unit-only | --e2e-only] [--keep-stack]
#   STRATA_FRONTEND_IMAGE  tag for the frontend image (default strata/frontend:dev)
# Debian 12, as root; non-interactive (CI=true is fine).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"
cd "$ROOT"

UNIT=1 E2E=1 KEEP_STACK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --unit-only) E2E=0 ;;
    --e2e-only) UNIT=0 ;;
    --keep-stack) KEEP_STACK=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) die test "unknown argument: $1" ;;
  esac
  shift
done

log() { say test "$@"; }
T0=$(date +%s)
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
command -v cargo >/dev/null || die test "cargo not found: install the Rust toolchain (rustup) first"

# Everything the steps below use. gcc/libc6-dev link the static binary; binutils has readelf.
if [ "$E2E" = 1 ]; then
  ensure_debs ca-certificates curl jq git gcc libc6-dev binutils \
              runc docker-registry debootstrap debian-archive-keyring
else
  ensure_debs ca-certificates git gcc libc6-dev
fi

# What this run's `up` starts is recorded here, so that the end stops exactly that.
WORKTMP=$(mktemp -d /tmp/strata-test.XXXXXX)
export STRATA_STACK_RECORD=$WORKTMP/stack-started
STACK_PID=

# shellcheck disable=SC2317  # invoked by the trap
finish() {
  local rc=$?
  if [ -n "$STACK_PID" ]; then wait "$STACK_PID" 2>/dev/null || true; fi
  if [ "$KEEP_STACK" = 0 ] && [ -s "$STRATA_STACK_RECORD" ]; then
    "$HERE/dockerstack.sh" down || true
  fi
  rm -rf "$WORKTMP"
  exit "$rc"
}
trap finish EXIT

if [ "$E2E" = 1 ]; then
  log "starting the docker stack in the background (log $WORKTMP/stack.log)"
  ( "$HERE/dockerstack.sh" up && "$HERE/dockerstack.sh" base ) >"$WORKTMP/stack.log" 2>&1 &
  STACK_PID=$!
fi

if [ "$UNIT" = 1 ]; then
  log "cargo test --workspace --locked"
  cargo test --workspace --locked
  log "unit and golden tests passed ($(elapsed))"
fi

[ "$E2E" = 1 ] || exit 0

log "waiting for the docker stack"
if ! wait "$STACK_PID"; then
  STACK_PID=
  cat "$WORKTMP/stack.log" >&2
  die test "the docker stack did not come up"
fi
STACK_PID=
sed 's/^/  /' "$WORKTMP/stack.log" >&2
log "docker stack ready ($(elapsed))"

"$HERE/build-frontend-image.sh"
log "frontend image ready ($(elapsed))"

# Each suite prints `N passed, N failed` last; cache.sh prunes the build cache, so it
# runs after the suites that reuse earlier builds.
PASSED=0 FAILED=0 E2E_RC=0
for suite in run.sh bad-specs.sh layers.sh shapes.sh mlbuild.sh cache.sh platforms.sh faults.sh; do
  [ -x "$ROOT/tests/e2e/$suite" ] || [ -f "$ROOT/tests/e2e/$suite" ] || continue
  log "end-to-end tests: $suite ($(elapsed))"
  set +e
  bash "$ROOT/tests/e2e/$suite" | tee "$WORKTMP/e2e.out"
  rc=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORKTMP/e2e.out" | tail -n 1)
  if [ -z "$line" ]; then
    log "$suite printed no summary (exit $rc)"
    FAILED=$((FAILED + 1)); E2E_RC=1; continue
  fi
  PASSED=$((PASSED + $(echo "$line" | awk '{print $1}')))
  FAILED=$((FAILED + $(echo "$line" | awk '{print $3}')))
  [ "$rc" = 0 ] || E2E_RC=1
done
SUMMARY="$PASSED passed, $FAILED failed"

if [ "$KEEP_STACK" = 0 ] && [ -s "$STRATA_STACK_RECORD" ]; then
  "$HERE/dockerstack.sh" down || true
fi
log "done in $(elapsed)"
# The e2e summary again, as the very last line.
echo "$SUMMARY"
exit "$E2E_RC"
