#!/usr/bin/env bash
# scripts/fuzz.sh — fuzz strata's front end (spec parse → check → resolve → plan → LLB,
# with frontend options, build args, .dockerignore and requirements files after `%%` lines;
# see fuzz/fuzz_targets/spec_to_llb.rs) with cargo fuzz (libFuzzer). Any panic is a bug: libFuzzer stops, saves the input in
# fuzz/artifacts/spec_to_llb/ and this script exits non-zero. Turn each one into a
# regression test (frontend/spec/src/tests/fuzz.rs) before fixing it.
#
# usage: scripts/fuzz.sh [SECONDS] [-- LIBFUZZER_ARGS...]
#   SECONDS           how long to fuzz (default 300)
#   FUZZ_JOBS         parallel fuzzing processes (default 1; the machine has 2 cores)
#   FUZZ_SANITIZER    cargo fuzz --sanitizer (default none: safe Rust, we look for panics;
#                     `address` finds the same panics about 2x slower)
#   CARGO_TARGET_DIR  where to build (default fuzz/target)
#
# The toolchain here is stable; cargo fuzz needs nightly-only flags (-Z, sanitizer
# coverage), which RUSTC_BOOTSTRAP=1 unlocks for this script's builds only.
# The corpus lives in fuzz/corpus/spec_to_llb (not committed); it is seeded from
# spec-examples/, the contract's example and the spec crate's test snippets.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_TO_RUN=300
if [ $# -gt 0 ] && [ "$1" != "--" ]; then SECONDS_TO_RUN=$1; shift; fi
[ "${1:-}" = "--" ] && shift
case "$SECONDS_TO_RUN" in ''|*[!0-9]*) echo "fuzz: SECONDS must be a number, got '$SECONDS_TO_RUN'" >&2; exit 2 ;; esac

TARGET=spec_to_llb
JOBS=${FUZZ_JOBS:-1}
SANITIZER=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1

say() { printf 'fuzz: %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz (crates.io)"
  cargo install cargo-fuzz --locked
fi

cd "$ROOT"
CORPUS=fuzz/corpus/$TARGET
SEEDS=fuzz/seeds
mkdir -p "$CORPUS"
# Seeds: every example spec, the contract's example, and the committed seed snippets.
i=0
for f in spec-examples/*/strata.toml frontend/spec/src/tests/example.toml "$SEEDS"/*; do
  [ -f "$f" ] || continue
  cp "$f" "$CORPUS/seed-$(basename "$(dirname "$f")")-$(basename "$f")-$i"
  i=$((i + 1))
done
say "seeded $i inputs into $CORPUS"

say "building $TARGET (sanitizer: $SANITIZER)"
cargo fuzz build --sanitizer "$SANITIZER" --release --debug-assertions "$TARGET" >&2

say "fuzzing for ${SECONDS_TO_RUN}s with $JOBS job(s)"
LOG=$(mktemp)
START=$(mktemp)   # artifacts newer than this one are this run's
trap 'rm -f "$LOG" "$START"' EXIT
PAR=()
# -jobs runs each job in its own process, logging to fuzz-N.log in the current directory.
[ "$JOBS" -gt 1 ] && PAR=(-jobs="$JOBS" -workers="$JOBS")
status=0
T0=$(date +%s)
cargo fuzz run --sanitizer "$SANITIZER" --release --debug-assertions "$TARGET" "$CORPUS" -- \
  -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
  -dict="$ROOT/fuzz/spec.dict" -print_final_stats=1 "${PAR[@]}" "$@" 2>&1 | tee "$LOG" >&2 || status=$?
T1=$(date +%s)

runs=$( (cat "$LOG" fuzz-*.log fuzz/fuzz-*.log 2>/dev/null || true) | (grep -o "stat::number_of_executed_units: *[0-9]*" || true) | awk "{s += \$2} END {print s + 0}")
rm -f fuzz-*.log fuzz/fuzz-*.log
crashes=$(find "fuzz/artifacts/$TARGET" -type f -newer "$START" 2>/dev/null | wc -l)
echo "fuzz: $runs executions in $((T1 - T0))s, $crashes crash artifact(s) in fuzz/artifacts/$TARGET"
if [ "$status" -ne 0 ] || [ "$crashes" -gt 0 ]; then
  echo "fuzz: FAILED (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $SANITIZER $TARGET fuzz/artifacts/$TARGET/<file>)"
  exit 1
fi
echo "fuzz: ok"
