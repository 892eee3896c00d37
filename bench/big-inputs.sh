#!/usr/bin/env bash
# bench/big-inputs.sh — strata on big inputs, on the local daemon; bench/run.sh runs it too.
#
# 1. A spec of 30 services with 10 tiers each (60 targets with their -dev twins): the time of
#    `strata check` and of one `strata llb` per target, and the largest LLB definition against
#    BuildKit's 4 MiB gRPC message limit. No daemon involved.
# 2. A build context of --files files (default 50,000, ~1 KiB each) next to a one-tier app:
#    built through the frontend image, and by BuildKit's Dockerfile frontend from a Dockerfile
#    of the same app without a .dockerignore (the common case). From the builds' own progress
#    (--progress=rawjson) it reports the bytes each context transfer sent: strata's dependency
#    tier sees only its requirements file, whatever the context's size.
#
# usage: bench/big-inputs.sh [--files N] [--frontend IMAGE] [--strata-bin PATH] [--markdown FILE] [--keep]
# Assumes what bench/run.sh assumes (engine, localhost/python:3.11-bookworm, frontend image, and a
# strata binary: default target/x86_64-unknown-linux-gnu/release/strata, else target/release/strata).
# Does not prune the build cache. Progress goes to stderr; the table to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
FILES=50000
FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
DEFAULT_FRONTEND=strata/frontend:dev
STRATA_BIN=
MARKDOWN=
KEEP=0
BASE_IMAGE=localhost/python:3.11-bookworm
GRPC_LIMIT=$((4 << 20))
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

while [ $# -gt 0 ]; do
  case "$1" in
    --files) FILES=$2; shift 2 ;;
    --frontend) FRONTEND=$2; shift 2 ;;
    --strata-bin) STRATA_BIN=$2; shift 2 ;;
    --markdown) MARKDOWN=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "big-inputs: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$FILES" =~ ^[1-9][0-9]*$ ]] || { echo "big-inputs: --files must be a positive integer" >&2; exit 2; }

say() { printf 'big-inputs: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
for c in docker jq awk python3; do command -v "$c" >/dev/null || die "$c is missing"; done
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"
docker image inspect "$FRONTEND" >/dev/null 2>&1 || die "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"
if [ -z "$STRATA_BIN" ]; then
  for b in "$ROOT/target/x86_64-unknown-linux-gnu/release/strata" "$ROOT/target/release/strata"; do
    [ -x "$b" ] && { STRATA_BIN=$b; break; }
  done
fi
[ -x "${STRATA_BIN:-}" ] || die "no strata binary (build one: cargo build --release -p strata, or pass --strata-bin)"

WORK=$(mktemp -d /tmp/strata-big.XXXXXX)
RUN_ID=$$-$(date +%s)
IMAGES=()
cleanup() {
  if [ "$KEEP" = 0 ]; then
    [ ${#IMAGES[@]} -gt 0 ] && docker image rm "${IMAGES[@]}" >/dev/null 2>&1
    rm -rf "$WORK"
  else
    say "kept $WORK"
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
ms() { awk -v a="$2" -v b="$1" 'BEGIN { printf "%.1f", (a - b) * 1000 }'; }
human() { awk -v b="$1" 'BEGIN { if (b < 1024) printf "%d B", b; else if (b < 1048576) printf "%.1f KiB", b / 1024;
  else printf "%.1f MiB", b / 1048576 }'; }

# ------------------------------------------------------------------ 30 services × 10 tiers

say "30 services × 10 tiers: strata check, strata llb for each of the 60 targets"
SPEC=$WORK/many
mkdir -p "$SPEC"
python3 - "$SPEC/strata.toml" <<'PY'
import sys
s = ['version = 1', '[image]', 'base = "localhost/python:3.11-bookworm"', '[system]',
     'packages = ["curl"]', 'build-packages = ["build-essential"]', '']
for i in range(30):
    svc = f"svc{i:02}"
    s += [f"[services.{svc}]", f'image.env = {{ SERVICE = "{svc}" }}',
          f'app.include = ["services/{svc}/", "shared/"]', f'run.cmd = ["python", "-m", "{svc}"]']
    for t in range(10):
        s += [f"[[services.{svc}.python.layers]]", f'name = "t{t}"',
              f'requirements = ["requirements/{svc}/t{t}.txt"]'] + (["dev = true"] if t == 9 else [])
    s.append("")
open(sys.argv[1], "w").write("\n".join(s))
PY
CHECK_MS=()
for _ in 1 2 3 4 5; do
  t0=$(now); "$STRATA_BIN" check "$SPEC/strata.toml" >/dev/null; t1=$(now)
  CHECK_MS+=("$(ms "$t0" "$t1")")
done
: >"$WORK/llb.tsv"
for i in $(seq -w 0 29); do
  for target in "svc$i" "svc$i-dev"; do
    t0=$(now); "$STRATA_BIN" llb "$SPEC/strata.toml" --target "$target" >"$WORK/def.pb"; t1=$(now)
    printf '%s\t%s\t%s\n' "$target" "$(ms "$t0" "$t1")" "$(stat -c %s "$WORK/def.pb")" >>"$WORK/llb.tsv"
  done
done
CHECK_MED=$(printf '%s\n' "${CHECK_MS[@]}" | median 1)
LLB_MED=$(cut -f2 "$WORK/llb.tsv" | median 1)
LLB_MAX=$(cut -f2 "$WORK/llb.tsv" | sort -g | tail -n1)
DEF_MAX=$(cut -f3 "$WORK/llb.tsv" | sort -g | tail -n1)
TARGETS=$(wc -l <"$WORK/llb.tsv")

# ------------------------------------------------------------------ a context of $FILES files

say "a context of $FILES files"
CTX=$WORK/context
mkdir -p "$CTX"
# Every file carries this run's id: BuildKit keeps earlier transfers of a context (by its
# shared key) and sends only what differs, so equal content would measure nothing.
python3 - "$CTX" "$FILES" "$RUN_ID" <<'PY'
import os, sys
root, n, run = sys.argv[1], int(sys.argv[2]), sys.argv[3]
line = "the quick brown fox jumps over the lazy dog, 0123456789\n"
body = (line * 19)[:1000]
for i in range(n):
    d = os.path.join(root, "data", f"d{i // 1000:03}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06}.txt"), "w") as f:
        f.write(f"{run} {i}\n{body}")
os.makedirs(os.path.join(root, "app"))
open(os.path.join(root, "app", "main.py"), "w").write(f"# run {run}\nimport six\nprint('six', six.__version__)\n")
open(os.path.join(root, "requirements.txt"), "w").write(f"# run {run}\nsix==1.16.0\n")
open(os.path.join(root, "strata.toml"), "w").write("""# syntax=strata/frontend:dev
version = 1
[image]
base = "localhost/python:3.11-bookworm"
[[python.layers]]
name = "deps"
requirements = ["requirements.txt"]
[app]
include = ["app/"]
[run]
cmd = ["python", "/app/app/main.py"]
""")
open(os.path.join(root, "Dockerfile"), "w").write("""FROM localhost/python:3.11-bookworm
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=cache,target=/root/.cache/pip /opt/venv/bin/pip install -r /tmp/requirements.txt
COPY app/ /app/app/
CMD ["/opt/venv/bin/python", "/app/app/main.py"]
""")
PY
CTX_BYTES=$(du -sb "$CTX" | cut -f1)

# build TOOL LOGNAME: one build of $CTX; prints its seconds.
build() {
  local tool=$1 log=$WORK/$2.log file=strata.toml extra=() image=strata-big/$1:$RUN_ID
  IMAGES+=("$image")
  if [ "$tool" = dockerfile ]; then
    file=Dockerfile     # no `# syntax=`: the daemon's built-in Dockerfile frontend
  elif [ "$FRONTEND" != "$DEFAULT_FRONTEND" ]; then
    extra=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  fi
  local t0 t1
  t0=$(now)
  docker buildx build --network host --load --progress=rawjson -f "$CTX/$file" -t "$image" \
    "${extra[@]}" "$CTX" >"$log" 2>&1 || { say "build failed ($tool): $log"; tail -n 20 "$log" >&2; return 1; }
  t1=$(now)
  awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.1f", a - b }'
}

# transfers LOG: NAME<TAB>BYTES for each context transfer of a build (the most each reported).
transfers() {
  sed -n '/^{/,/^}/p' "$1" | jq -rs '
    ([.[] | .vertexes[]? | select(.name != null) | {key: .digest, value: .name}] | from_entries) as $names
    | [.[] | .statuses[]? | select(.id | startswith("transferring context"))]
    | group_by(.vertex)[] | [($names[.[0].vertex] // .[0].vertex), (map(.current // 0) | max)] | @tsv'
}

say "building it with strata"
S_TIME=$(build strata strata) || exit 1
say "building it with a Dockerfile (no .dockerignore)"
D_TIME=$(build dockerfile dockerfile) || exit 1
transfers "$WORK/strata.log" >"$WORK/strata.transfers"
transfers "$WORK/dockerfile.log" >"$WORK/dockerfile.transfers"
[ -s "$WORK/strata.transfers" ] || die "no context transfer in strata's progress ($WORK/strata.log)"
S_TIER=$(awk -F'\t' '/requirements up to tier deps/ { print $2 }' "$WORK/strata.transfers")
S_APP=$(awk -F'\t' '/build context: app/ { print $2 }' "$WORK/strata.transfers")
D_ALL=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$WORK/dockerfile.transfers")
REQ_BYTES=$(stat -c %s "$CTX/requirements.txt")
APP_BYTES=$(stat -c %s "$CTX/app/main.py")
out=$(docker run --rm --network none "strata-big/strata:$RUN_ID" 2>&1) || die "the strata image does not run: $out"

table() {
  echo "Big inputs — $(date -u +%Y-%m-%d), $(nproc) cores, strata binary $(basename "$STRATA_BIN")"
  echo
  echo "| figure | value | target |"
  echo "|---|---:|---|"
  echo "| \`strata check\`, 30 services × 10 tiers (60 targets), median of 5 | ${CHECK_MED} ms | well under 1 s |"
  echo "| \`strata llb\` per target, median / slowest of $TARGETS | ${LLB_MED} / ${LLB_MAX} ms | well under 1 s |"
  echo "| largest LLB definition of those targets | $(human "$DEF_MAX") ($(awk -v a="$DEF_MAX" -v b="$GRPC_LIMIT" 'BEGIN { printf "%.1f%%", 100 * a / b }') of 4 MiB) | < 4 MiB |"
  echo "| context: files / bytes on disk | $FILES / $(human "$CTX_BYTES") | |"
  echo "| strata: context sent for the dependency tier | $(human "${S_TIER:-0}") (requirements.txt: $(human "$REQ_BYTES")) | its requirements files |"
  echo "| strata: context sent for the app | $(human "${S_APP:-0}") (app/main.py: $(human "$APP_BYTES")) | the app's files |"
  echo "| Dockerfile, no .dockerignore: context sent | $(human "$D_ALL") | |"
  echo "| build wall time, strata / Dockerfile (new requirements file, pip cache warm) | ${S_TIME} / ${D_TIME} s | |"
  echo
  echo "Context transfers as BuildKit reported them (\`transferring context:\`, bytes):"
  echo
  echo '```'
  sed 's/^/strata      /' "$WORK/strata.transfers"
  sed 's/^/Dockerfile  /' "$WORK/dockerfile.transfers"
  echo '```'
}
table >"$WORK/table.md"
cat "$WORK/table.md"
if [ -n "$MARKDOWN" ]; then cp "$WORK/table.md" "$MARKDOWN"; fi
