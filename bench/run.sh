#!/usr/bin/env bash
# bench/run.sh — strata against a hand-optimized Dockerfile of the same app, on the local daemon.
#
# Builds bench/app (a FastAPI + pandas + psycopg2 service, three dependency tiers; or the app of
# --app DIR) with its strata.toml (through the strata frontend image) and with its Dockerfile
# (through the daemon's built-in Dockerfile frontend), and prints ONE table measured in this run:
# cold build, no-op rebuild, rebuild after an app-file edit, rebuild after a change to the last
# tier's requirements (medians of --runs), final image size, layer count, the new layers (and
# their bytes) after the last-tier change, strata's LLB generation time per example target
# (median of --llb-runs) and the frontend image size, with the ratio strata/Dockerfile and the
# targets of issue #3.
#
# usage: bench/run.sh [--runs N] [--llb-runs N] [--frontend IMAGE] [--strata-bin PATH]
#                     [--app DIR [--app-file PATH] [--tier-file PATH] [--tier-add LINE]]
#                     [--dockerfile-syntax IMAGE] [--markdown FILE] [--raw FILE] [--no-big] [--keep]
#   --runs N          build sequences per tool (default $BENCH_RUNS, else 3); times are medians
#   --llb-runs N      `strata llb` invocations per target (default 21)
#   --frontend IMAGE  frontend image (default $STRATA_FRONTEND_IMAGE, else strata/frontend:dev)
#   --strata-bin PATH the strata binary timed for LLB generation (default: the static release
#                     binary scripts/build-frontend-image.sh packages, else target/release/strata,
#                     else one built with cargo build --release)
#   --markdown FILE   also write the table (with its notes) to FILE
#   --raw FILE        every sample, one per line (default /tmp/strata-bench-samples-<run>.tsv)
#   --app DIR         another app: DIR holds strata.toml and a Dockerfile of the same app
#                     (default bench/app); it is copied, never changed
#   --app-file PATH   the file (relative to DIR) the app edit appends a comment to (default:
#                     the first .py file under the spec's first [app] include)
#   --tier-file PATH  the requirements file the last-tier change appends to (default: the last
#                     file of the spec's last [[python.layers]] tier)
#   --tier-add LINE   what the last-tier change appends (default humanize==4.17.0)
#   --dockerfile-syntax IMAGE
#                     also time the Dockerfile's no-op through this Dockerfile frontend image, as
#                     `# syntax=IMAGE` does (a reference row: what a frontend image costs any
#                     no-op). Pulled if missing. Default $BENCH_DOCKERFILE_SYNTAX, else
#                     docker/dockerfile:1 if the image store has it (never pulled), else no row.
#   --no-big          skip bench/big-inputs.sh (30 services × 10 tiers, a 50,000-file context)
#   --keep            keep the work directory and the images
#
# WARNING: every run starts with `docker buildx prune -af`, which empties the daemon's whole
# build cache, cache mounts included (everybody's, not only this script's).
# Assumes the engine (scripts/dockerstack.sh up), localhost/python:3.11-bookworm
# (scripts/dockerstack.sh base) and the frontend image (scripts/build-frontend-image.sh).
# Needs docker buildx, jq, awk, gzip. Progress goes to stderr; the table to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RUNS=${BENCH_RUNS:-3}
LLB_RUNS=21
FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
DEFAULT_FRONTEND=strata/frontend:dev
STRATA_BIN=
MARKDOWN=
RAW=
KEEP=0
BIG=1
DF_SYNTAX=${BENCH_DOCKERFILE_SYNTAX:-}
APP=$HERE/app
APP_FILE=
TIER_FILE=
TIER_ADD=humanize==4.17.0
NOOPS=3        # no-op rebuilds per run
NOOP_PAUSE=3   # seconds between the cold build and the no-ops
BASE_IMAGE=localhost/python:3.11-bookworm
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --llb-runs) LLB_RUNS=$2; shift 2 ;;
    --frontend) FRONTEND=$2; shift 2 ;;
    --strata-bin) STRATA_BIN=$2; shift 2 ;;
    --markdown) MARKDOWN=$2; shift 2 ;;
    --raw) RAW=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --no-big) BIG=0; shift ;;
    --dockerfile-syntax) DF_SYNTAX=$2; shift 2 ;;
    --app) APP=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --app-file) APP_FILE=$2; shift 2 ;;
    --tier-file) TIER_FILE=$2; shift 2 ;;
    --tier-add) TIER_ADD=$2; shift 2 ;;
    -h|--help) sed -n '2,42p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs must be a positive integer" >&2; exit 2; }
[[ "$LLB_RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: --llb-runs must be a positive integer" >&2; exit 2; }

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

for c in docker jq awk gzip; do command -v "$c" >/dev/null || die "$c is missing"; done
docker info >/dev/null 2>&1 || die "docker is not reachable at $DOCKER_HOST (scripts/dockerstack.sh up)"
docker buildx version >/dev/null 2>&1 || die "docker buildx is missing"
[ -f "$APP/strata.toml" ] || die "$APP has no strata.toml (--app)"
[ -f "$APP/Dockerfile" ] || die "$APP has no Dockerfile (--app)"
if [ "$APP" = "$HERE/app" ]; then
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"
  APP_NAME=bench/app
else
  APP_NAME=$APP
fi
# The files the edits touch, unless given: from the spec (python3's tomllib reads it).
if [ -z "$APP_FILE" ] || [ -z "$TIER_FILE" ]; then
  command -v python3 >/dev/null || die "python3 is missing (or give --app-file and --tier-file)"
  defaults=$(python3 - "$APP/strata.toml" <<'PY'
import os, sys, tomllib
spec_path = sys.argv[1]
root = os.path.dirname(spec_path)
with open(spec_path, "rb") as f:
    spec = tomllib.load(f)
tier = ""
for layer in reversed(spec.get("python", {}).get("layers", [])):
    if layer.get("requirements"):
        tier = layer["requirements"][-1]
        break
def first_file(rel):
    p = os.path.join(root, rel)
    if os.path.isfile(p):
        return rel
    found = []
    for d, dirs, files in os.walk(p):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        found += [os.path.relpath(os.path.join(d, x), root) for x in sorted(files)]
    # A module with code rather than a package's __init__.py, if there is one.
    py = sorted((x for x in found if x.endswith(".py")),
                key=lambda x: (os.path.basename(x) == "__init__.py", x))
    return (py or found or [""])[0]
app = ""
for inc in spec.get("app", {}).get("include", []) or ["."]:
    app = first_file(inc)
    if app:
        break
print(app)
print(tier)
PY
) || die "cannot read $APP/strata.toml to choose the files to edit (give --app-file and --tier-file)"
  { read -r d_app; read -r d_tier; } <<<"$defaults"
  APP_FILE=${APP_FILE:-$d_app}; TIER_FILE=${TIER_FILE:-$d_tier}
fi
[ -f "$APP/$APP_FILE" ] || die "no app file to edit: '$APP_FILE' (--app-file)"
[ -f "$APP/$TIER_FILE" ] || die "no last-tier requirements file: '$TIER_FILE' (--tier-file)"
docker image inspect "$FRONTEND" >/dev/null 2>&1 || die "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"
if [ -n "$DF_SYNTAX" ]; then
  docker image inspect "$DF_SYNTAX" >/dev/null 2>&1 || docker pull -q "$DF_SYNTAX" >/dev/null \
    || die "cannot pull the Dockerfile frontend image $DF_SYNTAX (--dockerfile-syntax)"
elif docker image inspect docker/dockerfile:1 >/dev/null 2>&1; then
  DF_SYNTAX=docker/dockerfile:1
fi

if [ -z "$STRATA_BIN" ]; then
  for b in "$ROOT/target/x86_64-unknown-linux-gnu/release/strata" "$ROOT/target/release/strata"; do
    [ -x "$b" ] && { STRATA_BIN=$b; break; }
  done
fi
if [ -z "$STRATA_BIN" ]; then
  say "cargo build --release -p strata (for the LLB timing)"
  (cd "$ROOT" && cargo build --release --locked -p strata >&2)
  STRATA_BIN=$ROOT/target/release/strata
fi
[ -x "$STRATA_BIN" ] || die "no strata binary at $STRATA_BIN"

WORK=$(mktemp -d /tmp/strata-bench.XXXXXX)
RUN_ID=$$-$(date +%s)
IMG_S=strata-bench/strata:$RUN_ID
IMG_D=strata-bench/dockerfile:$RUN_ID
IMG_DP=strata-bench/dockerfile-pruned:$RUN_ID
[ -n "$RAW" ] || RAW=/tmp/strata-bench-samples-$RUN_ID.tsv
: >"$RAW"
cleanup() {
  if [ "$KEEP" = 0 ]; then
    docker image rm "$IMG_S" "$IMG_S-before" "$IMG_D" "$IMG_D-before" "$IMG_DP" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  else
    say "kept $WORK and the images strata-bench/*:$RUN_ID"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ helpers

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
# sample KIND TOOL VALUE: record one measurement
sample() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RAW"; }
med() { awk -F'\t' -v k="$1" -v t="$2" '$1 == k && $2 == t { print $3 }' "$RAW" | median; }
last() { awk -F'\t' -v k="$1" -v t="$2" '$1 == k && $2 == t { v = $3 } END { print v }' "$RAW"; }

# build TOOL DIR IMAGE LOGNAME [args...]: one timed build; prints the seconds it took.
build() {
  local tool=$1 dir=$2 image=$3 log=$WORK/logs/$4.log; shift 4
  local file=strata.toml extra=()
  if [ "$tool" = dockerfile ]; then file=Dockerfile
  elif [ "$tool" = dockerfile-syntax ]; then file=Dockerfile; extra=(--build-arg "BUILDKIT_SYNTAX=$DF_SYNTAX")
  elif [ "$FRONTEND" != "$DEFAULT_FRONTEND" ]; then extra=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND"); fi
  mkdir -p "$WORK/logs"
  local t0 t1
  t0=$(now)
  if ! docker buildx build --network host --load --progress=rawjson -f "$dir/$file" -t "$image" \
       "${extra[@]}" "$@" "$dir" >"$log" 2>&1; then
    say "build failed ($tool, $log):"; grep -v '^[[:space:]]*[]{}["]' "$log" | tail -n 15 >&2
    return 1
  fi
  t1=$(now)
  sub "$t1" "$t0"
}

# executed LOG: names of the exec/file steps that ran (not cache hits), loading and export aside.
executed() {
  sed -n '/^{/,/^}/p' "$1" | jq -rs '[.[] | .vertexes[]? | select(.digest != null)] | group_by(.digest)[]
      | select((map(.cached // false) | any | not) and (map(.started != null) | any))
      | (map(.name) | map(select(. != null)) | last // "")' 2>/dev/null \
    | grep -Ev '^\[internal\]|load build|load \.dockerignore|load metadata|resolve image config|^local://|^docker-image://|FROM |^exporting|^naming|^writing|^unpacking|layer: |assemble image' || true
}

# retry CMD...: CMD, and once more if it fails (other users of the daemon prune and GC it; a
# build can then fail with "not found" while exporting). A retried rebuild may run steps again:
# its sample is kept, as it is what the build took.
retry() { "$@" || { say "  build failed; trying again once"; "$@"; }; }

layers() { docker image inspect -f '{{json .RootFS.Layers}}' "$1"; }

# layer_sizes IMAGE: one line per layer, bottom first: DIFF_ID COMPRESSED_BYTES UNCOMPRESSED_BYTES.
# The compressed size is the layer blob's as stored and pushed (gzip, from `docker save`, whose
# manifest.json lists the blobs in RootFS order); the uncompressed size is that blob gunzipped.
# With UNCOMPRESSED=0 the third column is "-" (saves gunzipping every layer).
layer_sizes() {
  local image=$1 d=$WORK/save
  rm -rf "$d"; mkdir -p "$d"
  docker save "$image" -o "$d/img.tar"
  tar -xf "$d/img.tar" -C "$d"
  local ids blobs i n
  mapfile -t ids < <(layers "$image" | jq -r '.[]')
  mapfile -t blobs < <(jq -r '.[0].Layers[]' "$d/manifest.json")
  n=${#ids[@]}
  [ "$n" = "${#blobs[@]}" ] || die "docker save of $image lists ${#blobs[@]} layers, RootFS has $n"
  for ((i = 0; i < n; i++)); do
    local c u=-
    c=$(stat -c %s "$d/${blobs[$i]}")
    if [ "${UNCOMPRESSED:-1}" = 1 ] || [[ " ${WANT_U:-} " == *" ${ids[$i]} "* ]]; then
      if gzip -t "$d/${blobs[$i]}" 2>/dev/null; then u=$(gzip -dc "$d/${blobs[$i]}" | wc -c)
      else u=$c; fi
    fi
    echo "${ids[$i]} $c $u"
  done
  rm -rf "$d"
}

fresh_copy() { rm -rf "$2"; cp -a "$APP" "$2"; }

# prune_all: `docker buildx prune -af` until no cache mount is left. A cache mount that another
# build on the daemon is using at that moment survives a prune (strata's ids are shared by every
# strata build), so this retries for a while; prints the number left (0 when truly cold).
prune_all() {
  local i left=0
  for ((i = 0; i < 12; i++)); do
    docker buildx prune -af >/dev/null 2>&1 || die "docker buildx prune -af failed"
    left=$(docker buildx du --verbose --filter type=exec.cachemount 2>/dev/null | grep -c '^ID:' || true)
    [ "$left" = 0 ] && break
    sleep 5
  done
  echo "$left"
}

# cache_hits LOG: pip "Using cached" lines in a build's output (downloads or wheels served from a
# cache mount): 0 in a truly cold build.
cache_hits() {
  sed -n '/^{/,/^}/p' "$1" | jq -rs '[.[] | .logs[]? | .data | @base64d] | join("")' 2>/dev/null \
    | grep -c 'Using cached' || true
}

# ------------------------------------------------------------------ the runs

# One sequence for TOOL: cold build, no-op rebuild, app edit, last-tier change.
sequence() {
  local tool=$1 r=$2 dir=$WORK/$1 img t
  img=$IMG_S; [ "$tool" = dockerfile ] && img=$IMG_D
  fresh_copy "$tool" "$dir"

  say "run $r/$RUNS $tool: docker buildx prune -af, cold build"
  local left attempt
  for attempt in 1 2; do
    left=$(prune_all)
    [ "$left" = 0 ] || say "  $left cache mounts in use by other builds survived the prune"
    t=$(build "$tool" "$dir" "$img" "$tool-$r-cold") && break
    [ "$attempt" = 1 ] || exit 1
    say "  cold build failed; pruning and trying again once"
  done
  sample cold "$tool" "$t"; say "  cold ${t}s"
  sample cold_mounts_left "$tool" "$left"
  sample cold_pip_hits "$tool" "$(cache_hits "$WORK/logs/$tool-$r-cold.log")"

  # No-ops: NOOPS in a row, after a pause. Right after a cold build the daemon is still busy
  # for a moment (a no-op then takes up to twice as long, for either tool), and a no-op is
  # what a developer's next build is, seconds or hours later. Each no-op is a sample.
  sleep "$NOOP_PAUSE"
  local i
  for ((i = 1; i <= NOOPS; i++)); do
    t=$(retry build "$tool" "$dir" "$img" "$tool-$r-noop$i") || exit 1
    sample noop "$tool" "$t"; say "  no-op ${t}s"
    sample noop_steps "$tool" "$(executed "$WORK/logs/$tool-$r-noop$i.log" | wc -l)"
    if [ "$tool" = dockerfile ] && [ -n "$DF_SYNTAX" ]; then
      # The same Dockerfile through a frontend image, in turn with the built-in frontend's:
      # the same graph, so a no-op too.
      t=$(retry build dockerfile-syntax "$dir" "$img" "$tool-$r-noop-syntax$i") || exit 1
      sample noop dockerfile_syntax "$t"; say "  no-op through $DF_SYNTAX ${t}s"
      sample noop_steps dockerfile_syntax "$(executed "$WORK/logs/$tool-$r-noop-syntax$i.log" | wc -l)"
    fi
  done

  printf '\n# bench edit %s-%s\n' "$RUN_ID" "$r" >>"$dir/$APP_FILE"
  t=$(retry build "$tool" "$dir" "$img" "$tool-$r-app") || exit 1
  sample app "$tool" "$t"; say "  app edit ${t}s"
  sample app_steps "$tool" "$(executed "$WORK/logs/$tool-$r-app.log" | wc -l)"

  docker tag "$img" "$img-before"
  # A real change to the last tier: one more pinned package (the comment makes each run's
  # file unique, so no run can hit another's cache).
  printf '\n# bench change %s-%s\n%s\n' "$RUN_ID" "$r" "$TIER_ADD" >>"$dir/$TIER_FILE"
  t=$(retry build "$tool" "$dir" "$img" "$tool-$r-tier") || exit 1
  sample tier "$tool" "$t"; say "  last-tier change ${t}s"
  sample tier_steps "$tool" "$(executed "$WORK/logs/$tool-$r-tier.log" | wc -l)"

  # What a push of the new image would send: the layers the old image does not have.
  local before after new c u n=0 cb=0 ub=0
  before=$(layers "$img-before"); after=$(layers "$img")
  new=$(jq -rn --argjson b "$before" --argjson a "$after" '$a - $b | .[]')
  sample layers "$tool" "$(echo "$after" | jq length)"
  sample size "$tool" "$(docker image inspect -f '{{.Size}}' "$img")"
  while read -r id c u; do
    grep -qx "$id" <<<"$new" || continue
    n=$((n + 1)); cb=$((cb + c)); ub=$((ub + u))
  done < <(WANT_U="$(tr '\n' ' ' <<<"$new")" UNCOMPRESSED=0 layer_sizes "$img")
  sample new_layers "$tool" "$n"; sample new_gz "$tool" "$cb"; sample new_raw "$tool" "$ub"
  say "  $n new layers, $cb bytes compressed, $ub uncompressed"
  docker image rm "$img-before" >/dev/null 2>&1 || true
}

DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
say "work dir $WORK; $RUNS runs; frontend $FRONTEND; strata binary $STRATA_BIN"
for ((r = 1; r <= RUNS; r++)); do
  # Alternate which tool goes first, so that neither always runs right after a prune of the other.
  if [ $((r % 2)) = 1 ]; then sequence strata "$r"; sequence dockerfile "$r"
  else sequence dockerfile "$r"; sequence strata "$r"; fi
done

# Unpacked sizes of the final images (sum of the uncompressed layers).
unpacked() { layer_sizes "$1" | awk '{ s += $3 } END { print s }'; }
sample unpacked strata "$(unpacked "$IMG_S")"
sample unpacked dockerfile "$(unpacked "$IMG_D")"
# Only an image-size reference: the Dockerfile with strata's tests/docs pruning (warm cache),
# if it has the PRUNE_TESTS argument (bench/app's has).
PRUNED=0
if grep -q 'ARG PRUNE_TESTS' "$APP/Dockerfile"; then
  PRUNED=1
  say "Dockerfile with --build-arg PRUNE_TESTS=1 (size reference)"
  build dockerfile "$WORK/dockerfile" "$IMG_DP" dockerfile-pruned --build-arg PRUNE_TESTS=1 >/dev/null || exit 1
  sample size dockerfile_pruned "$(docker image inspect -f '{{.Size}}' "$IMG_DP")"
  sample unpacked dockerfile_pruned "$(unpacked "$IMG_DP")"
fi

# LLB generation: `strata llb` per target of the bench app and of every example (process wall
# time, spawn included); the targets come from `strata check --targets`.
specs=(bench/app/strata.toml spec-examples/*/strata.toml)
[ "$APP" = "$HERE/app" ] || specs=("$APP/strata.toml" "${specs[@]}")
for spec in "${specs[@]}"; do
  path=$spec; [[ "$spec" = /* ]] || path=$ROOT/$spec
  [ -f "$path" ] || continue
  targets=$("$STRATA_BIN" check "$path" --targets 2>/dev/null) || die "strata check $spec failed"
  for target in $targets; do
    "$STRATA_BIN" llb "$path" --target "$target" >/dev/null 2>&1 \
      || die "strata llb $spec --target $target failed"
    for ((i = 0; i < LLB_RUNS; i++)); do
      t0=$(now); "$STRATA_BIN" llb "$path" --target "$target" >/dev/null; t1=$(now)
      sample "llb:${spec%/strata.toml}:$target" strata "$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", (a - b) * 1000 }')"
    done
  done
done
sample frontend strata "$(docker image inspect -f '{{.Size}}' "$FRONTEND")"
sample frontend_unpacked strata "$(UNCOMPRESSED=1 unpacked "$FRONTEND")"

# ------------------------------------------------------------------ the table

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }
# verdict VALUE OP LIMIT: "met" or "MISSED"
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == "<=") ? (v <= l) : (v < l); print ok ? "met" : "MISSED" }'; }

table() {
  local s d r
  echo "strata vs hand-optimized Dockerfile — $APP_NAME, $DATE"
  echo "host: $(nproc) cores, Docker $(docker version -f '{{.Server.Version}}' 2>/dev/null), $RUNS runs (times: medians), LLB: median of $LLB_RUNS"
  echo
  echo "| metric | strata | Dockerfile | strata/Dockerfile | target | verdict |"
  echo "|---|---:|---:|---:|---|---|"
  for k in cold noop app tier; do
    local label
    case $k in
      cold) label="cold build (s)" ;;
      noop) label="no-op rebuild (s)" ;;
      app) label="rebuild after an app-file edit (s)" ;;
      tier) label="rebuild after a last-tier requirements change (s)" ;;
    esac
    s=$(med "$k" strata); d=$(med "$k" dockerfile); r=$(ratio "$s" "$d")
    echo "| $label | $s | $d | $r | ≤ 1.0 | $(verdict "$r" '<=' 1.0) |"
  done
  if [ -n "$DF_SYNTAX" ]; then
    s=$(med noop strata); d=$(med noop dockerfile_syntax)
    echo "| (reference) no-op rebuild, the Dockerfile through the frontend image \`$DF_SYNTAX\` (s) | $s | $d | $(ratio "$s" "$d") | | |"
  fi
  s=$(med size strata); d=$(med size dockerfile); r=$(ratio "$s" "$d")
  echo "| final image size (.Size, compressed layers) | $(mb "$s") | $(mb "$d") | $r | ≤ 0.9 | $(verdict "$r" '<=' 0.9) |"
  s=$(last unpacked strata); d=$(last unpacked dockerfile)
  echo "| final image unpacked (sum of uncompressed layers) | $(mb "$s") | $(mb "$d") | $(ratio "$s" "$d") | | |"
  if [ "$PRUNED" = 1 ]; then
    d=$(last size dockerfile_pruned)
    echo "| (reference) Dockerfile with PRUNE_TESTS=1, .Size / unpacked | | $(mb "$d") / $(mb "$(last unpacked dockerfile_pruned)") | $(ratio "$(med size strata)" "$d") | | |"
  fi
  s=$(med layers strata); d=$(med layers dockerfile)
  local base_layers=
  [ "$APP" = "$HERE/app" ] && base_layers=" (base image: $(docker image inspect -f '{{len .RootFS.Layers}}' "$BASE_IMAGE"))"
  echo "| layer count$base_layers | ${s%.*} | ${d%.*} | $(ratio "$s" "$d") | | |"
  s=$(med new_layers strata); d=$(med new_layers dockerfile)
  echo "| new layers after a last-tier change | ${s%.*} | ${d%.*} | | | |"
  s=$(med new_gz strata); d=$(med new_gz dockerfile); r=$(ratio "$s" "$d")
  echo "| new-layer bytes after a last-tier change, compressed (pushed) | $(mb "$s") | $(mb "$d") | $r | ≤ 0.25 | $(verdict "$r" '<=' 0.25) |"
  s=$(med new_raw strata); d=$(med new_raw dockerfile)
  echo "| new-layer bytes after a last-tier change, uncompressed | $(mb "$s") | $(mb "$d") | $(ratio "$s" "$d") | | |"
  s=$(med app_steps strata); d=$(med app_steps dockerfile)
  echo "| build steps run after an app-file edit | ${s%.*} | ${d%.*} | | | |"
  s=$(med tier_steps strata); d=$(med tier_steps dockerfile)
  echo "| build steps run after a last-tier change | ${s%.*} | ${d%.*} | | | |"
  local k spec
  for spec in $(awk -F'\t' '$1 ~ /^llb:/ { split($1, p, ":"); print p[2] }' "$RAW" | awk '!seen[$0]++'); do
    # Per target the median of its runs; the row shows the slowest target of the example.
    local worst=0 wt= n=0
    for k in $(awk -F'\t' -v e="$spec" '$1 ~ "^llb:" e ":" { print $1 }' "$RAW" | awk '!seen[$0]++'); do
      s=$(med "$k" strata); n=$((n + 1))
      if awk -v a="$s" -v b="$worst" 'BEGIN { exit !(a > b) }'; then worst=$s; wt=${k##*:}; fi
    done
    echo "| LLB generation, \`strata llb\` $spec, slowest of $n targets ($wt) (ms) | $worst | — | | < 20 | $(verdict "$worst" '<' 20) |"
  done
  s=$(last frontend strata)
  echo "| frontend image $FRONTEND (.Size / unpacked) | $(mb "$s") / $(mb "$(last frontend_unpacked strata)") | built in | | < 10 MB | $(verdict "$s" '<' 10000000) |"
  echo
  echo "Notes:"
  echo "- cold: after \`docker buildx prune -af\` (no build cache, no cache mounts: apt .debs and pip"
  echo "  wheels are downloaded again, psycopg2 is compiled again); the base image and the frontend image"
  echo "  stay in the image store, so neither is pulled. Each tool's cold build follows its own prune."
  echo "- times are wall-clock seconds of \`docker buildx build --load\` (export and unpack included),"
  echo "  median of $RUNS; the order of the two tools alternates between runs. Noisy host: 2 shared cores."
  echo "- no-op: $NOOPS in a row per run, ${NOOP_PAUSE} s after the cold build (median of all $((NOOPS * RUNS))); steps they ran:"
  echo "  strata $(awk -F'\t' '$1 == "noop_steps" && $2 == "strata" { printf "%s ", $3 }' "$RAW")," \
       "Dockerfile $(awk -F'\t' '$1 == "noop_steps" && $2 == "dockerfile" { printf "%s ", $3 }' "$RAW")(0 = a true no-op)."
  echo "- app edit: a comment appended to $APP_FILE; last-tier change: \`$TIER_ADD\` appended to $TIER_FILE. New layers: diff IDs of"
  echo "  the new image's RootFS not in the old one's; compressed bytes are the gzip blobs \`docker save\`"
  echo "  exports (what a push sends), uncompressed bytes those blobs gunzipped."
  echo "- .Size is \`docker image inspect .Size\`, which with the containerd image store is the sum of the"
  echo "  compressed layer blobs."
  if [ "$PRUNED" = 1 ]; then
    echo "- the Dockerfile keeps tests/ and docs in site-packages and pip/setuptools in its venv (the guides'"
    echo "  way); the PRUNE_TESTS=1 row shows its size with strata's pruning, for reference."
  fi
  if [ -n "$DF_SYNTAX" ]; then
    echo "- the image-frontend no-op: the Dockerfile with \`--build-arg BUILDKIT_SYNTAX=$DF_SYNTAX\`"
    echo "  (what a \`# syntax=\` line does), each right after one of the built-in frontend's no-ops; steps they ran:" \
         "$(awk -F'\t' '$1 == "noop_steps" && $2 == "dockerfile_syntax" { printf "%s ", $3 }' "$RAW")(per no-op)."
  fi
  echo "- LLB generation: wall time of one \`$(basename "$STRATA_BIN") llb\` process ($STRATA_BIN), no daemon."
  echo "- cold builds: cache mounts left after the prune (in use by other builds): strata" \
       "$(awk -F'\t' '$1 == "cold_mounts_left" && $2 == "strata" { printf "%s ", $3 }' "$RAW")," \
       "Dockerfile $(awk -F'\t' '$1 == "cold_mounts_left" && $2 == "dockerfile" { printf "%s ", $3 }' "$RAW");" \
       "pip \"Using cached\" lines: strata $(awk -F'\t' '$1 == "cold_pip_hits" && $2 == "strata" { printf "%s ", $3 }' "$RAW")," \
       "Dockerfile $(awk -F'\t' '$1 == "cold_pip_hits" && $2 == "dockerfile" { printf "%s ", $3 }' "$RAW")(per run; 0 = truly cold)."
  echo "- samples: $RAW"
}

table >"$WORK/table.md"
cat "$WORK/table.md"

# Big inputs (30 services × 10 tiers; a context of 50,000 files), its own table.
if [ "$BIG" = 1 ]; then
  say "big inputs (bench/big-inputs.sh)"
  big_args=(--strata-bin "$STRATA_BIN" --markdown "$WORK/big.md")
  [ "$FRONTEND" != "$DEFAULT_FRONTEND" ] && big_args+=(--frontend "$FRONTEND")
  if "$HERE/big-inputs.sh" "${big_args[@]}" >/dev/null; then
    { echo; cat "$WORK/big.md"; } | tee -a "$WORK/table.md"
  else
    say "bench/big-inputs.sh failed"; exit 1
  fi
fi
if [ -n "$MARKDOWN" ]; then cp "$WORK/table.md" "$MARKDOWN"; fi
