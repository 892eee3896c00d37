#!/usr/bin/env bash
# tests/e2e/faults.sh — strata builds under faults and load, on a PRIVATE engine.
#
# Starts its own dockerd (the engine scripts/dockerstack.sh installed under
# /opt/strata/dockerstack: own --data-root, --exec-root, unix socket, pidfile, and the
# containerd that dockerd manages under its exec-root) and its own registry on a free
# port, loads the frontend image and the base image into it (docker save | docker load from
# the shared daemon, which is otherwise left alone), and serves the wheels from a local
# index on 127.0.0.1 whose behaviour a control file switches: answer, delay one wheel, or
# answer 500. Killing and stopping that engine and registry disturbs no other build.
#
#   daemon_killed_mid_install  dockerd SIGKILLed while a tier's wheel is downloading,
#                              restarted: the killed build tagged no image and left no
#                              image behind; the next build succeeds, reuses the finished
#                              tier (it does not run again) and the app runs
#   registry_down_cache_to     the registry is down during --cache-to type=registry: the
#                              build fails with an error naming the registry, exactly as a
#                              Dockerfile build does (same exit status, same image outcome:
#                              with the docker driver the image is stored before the export)
#   registry_down_cache_from   ... during --cache-from: the build still produces its image,
#                              and shows the failed import ("failed to configure registry
#                              cache importer"), as a Dockerfile build does
#   index_500                  the index answers 500: the build fails and its error names
#                              the tier, the index and the package; once the index
#                              recovers the rebuild runs that install again (nothing was
#                              cached as success) and succeeds
#   index_unreachable          the same with nothing listening on the index's port, then an
#                              index starting there
#   sigint_mid_install         buildx gets SIGINT while a tier's wheel is downloading; the
#                              rebuild makes a correct image, and a later install of
#                              another tier needing the same wheels downloads none (the
#                              uv cache mount is intact and reused; installer = "uv")
#   five_services_concurrent   five services of one spec built by five buildx processes
#                              at once while a sixth build exports a registry cache: all
#                              succeed within the timeout (three runtime apt installs
#                              contend for the locked apt cache mounts: no deadlock), each
#                              tier is installed once (runtime packages stay off the
#                              builder, so all five share it; counted by requests for
#                              its index page); prints
#                              the wall time and the private dockerd's peak memory. Needs
#                              the base image's Debian mirror (as layers.sh does)
#
# usage: tests/e2e/faults.sh [--frontend IMAGE] [--only REGEX] [--keep]
#   --frontend IMAGE  frontend image on the shared daemon to copy into the private one
#                     (default $STRATA_FRONTEND_IMAGE, else strata/frontend:dev)
#   --only REGEX      run only the tests whose name matches
#   --keep            keep the temp dir (logs, the private engine's data)
# Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is `N passed, N failed`.
# Everything it starts (dockerd, containerd, registry, index) is stopped on exit, even on
# failure or interrupt. As root (dockerd).
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
BASE_IMAGE=localhost/python:3.11-bookworm
STACK_HOME=${STRATA_STACK_HOME:-/opt/strata/dockerstack}
SHARED_DOCKER=${STRATA_SHARED_DOCKER_HOST:-unix:///var/run/docker.sock}
BUILD_TIMEOUT=${FAULTS_BUILD_TIMEOUT:-240}
ONLY=
KEEP=0

while [ $# -gt 0 ]; do
  case "$1" in
    --frontend) FRONTEND=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

RUN_ID=$$-$(date +%s)
LABEL=strata-e2e-faults.run=$RUN_ID
# Short: containerd's sockets live under the exec root (unix socket paths max 108 bytes).
WORK=$(mktemp -d /tmp/sf.XXXXXX)
LOGS=$WORK/logs
PD=$WORK/engine            # the private engine's state
mkdir -p "$LOGS" "$PD"
PSOCK=$PD/docker.sock
REG_PORT=
REG_PID=
INDEX_PORT=
INDEX_CTL=$WORK/index.mode
INDEX_LOG=
DOCKERD_PID=

# P ARGS...: docker against the private engine.
P() { DOCKER_HOST=unix://$PSOCK docker "$@"; }

# ------------------------------------------------------------------ the private engine

# The private engine's bridge: a dockerd with `"bridge": "none"` deletes the host's
# docker0 when it starts (moby's removeDefaultBridgeInterface), which breaks the shared
# engine's networking; one with a bridge of its own leaves docker0 alone.
PBRIDGE=strata-sf0
PBRIDGE_ADDR=10.213.77.1/24
PBRIDGE_MADE=0
make_bridge() {
  ip link show "$PBRIDGE" >/dev/null 2>&1 && return 0
  ip link add "$PBRIDGE" type bridge && ip addr add "$PBRIDGE_ADDR" dev "$PBRIDGE" \
    && ip link set "$PBRIDGE" up && PBRIDGE_MADE=1
}

start_engine() {
  mkdir -p "$PD/data" "$PD/exec"
  make_bridge || { fail "could not create the bridge $PBRIDGE for the private dockerd"; return 1; }
  cat >"$PD/daemon.json" <<EOF
{
  "features": { "containerd-snapshotter": true },
  "iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false,
  "userland-proxy": false, "bridge": "$PBRIDGE"
}
EOF
  PATH=$STACK_HOME/bin:$PATH setsid dockerd --config-file "$PD/daemon.json" \
    --data-root "$PD/data" --exec-root "$PD/exec" --pidfile "$PD/dockerd.pid" \
    -H "unix://$PSOCK" >>"$LOGS/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  disown "$DOCKERD_PID"   # no "Killed" job notice when a test kills it
  local i
  for i in $(seq 120); do
    P info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  fail "the private dockerd did not come up: $(tail -n 3 "$LOGS/dockerd.log" | tr '\n' ' ')"
}

# The managed containerd's pid (it records it under the exec root).
containerd_pid() { cat "$PD/exec/containerd/containerd.pid" 2>/dev/null; }

kill_engine() { # SIGNAL
  [ -n "$DOCKERD_PID" ] || return 0
  kill "-$1" "$DOCKERD_PID" 2>/dev/null
  local i
  for i in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  DOCKERD_PID=
}

stop_engine() {
  kill_engine TERM
  local c; c=$(containerd_pid)
  if [ -n "$c" ] && tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null | grep -q -- "$PD/exec"; then
    kill "$c" 2>/dev/null; sleep 1; kill -9 "$c" 2>/dev/null
  fi
  # Mounts a killed daemon left under its data root.
  awk -v p="$PD/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}

start_registry() {
  REG_PORT=${REG_PORT:-$(free_port)}
  mkdir -p "$PD/registry"
  cat >"$PD/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $PD/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
EOF
  docker-registry serve "$PD/registry.yml" >>"$LOGS/registry.log" 2>&1 </dev/null &
  REG_PID=$!
  local i
  for i in $(seq 50); do curl -sf "http://127.0.0.1:$REG_PORT/v2/" >/dev/null && return 0; sleep 0.2; done
  fail "the private registry did not come up on :$REG_PORT: $(tail -n 3 "$LOGS/registry.log")"
}
stop_registry() {
  [ -n "$REG_PID" ] || return 0
  kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; REG_PID=
  return 0
}

cleanup() {
  stop_servers
  stop_registry
  stop_engine
  if [ "$PBRIDGE_MADE" = 1 ]; then ip link del "$PBRIDGE" 2>/dev/null; fi
  if [ "$KEEP" = 0 ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ the index

# A PEP 503 index whose control file ($INDEX_CTL) says how to answer: `ok`; `slow NAME
# SECONDS` (wheels whose path holds NAME wait SECONDS first, logging `BEGIN slow PATH`);
# `500` (every request). Wheels are served as PyPI serves them, cacheable (pip's HTTP
# cache, on strata's cache mount, keeps them). The request log is $INDEX_LOG.
UV_VERSION=0.13.9   # the uv strata installs (frontend/plan/src/python.rs UV_VERSION)
WHEELS="typing-extensions==4.16.0 idna==3.20 h11==0.16.0 iniconfig==2.3.1 uv==$UV_VERSION"
start_index() {
  local idx=$WORK/index
  mkdir -p "$idx/packages"
  # shellcheck disable=SC2086
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$idx/packages" $WHEELS \
      >"$LOGS/pip-download.log" 2>&1 \
    || { fail "pip download of the index's wheels failed: $(tail -n 2 "$LOGS/pip-download.log")"; return 1; }
  python3 - "$idx" <<'PY' || { fail "could not write the index"; return 1; }
import hashlib, os, re, sys
root = sys.argv[1]
for name in sorted(os.listdir(f"{root}/packages")):
    project = re.sub(r"[-_.]+", "-", name.split("-")[0]).lower()
    sha = hashlib.sha256(open(f"{root}/packages/{name}", "rb").read()).hexdigest()
    os.makedirs(f"{root}/simple/{project}", exist_ok=True)
    with open(f"{root}/simple/{project}/index.html", "a") as f:
        f.write(f'<a href="../../packages/{name}#sha256={sha}">{name}</a>\n')
PY
  cat >"$WORK/index.py" <<'PY'
import http.server, os, sys, time
root, port, ctl = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)

    def do_GET(self):
        try:
            mode = open(ctl).read().split()
        except OSError:
            mode = ["ok"]
        if mode and mode[0] == "500":
            self.send_error(500, "injected by tests/e2e/faults.sh")
            return
        if mode and mode[0] == "slow" and mode[1] in self.path and self.path.endswith(".whl"):
            self.log_message("BEGIN slow %s", self.path)
            time.sleep(float(mode[2]))
        super().do_GET()

    def end_headers(self):
        # As PyPI does for files: without it pip's HTTP cache keeps no wheel.
        if self.path.startswith("/packages/"):
            self.send_header("Cache-Control", "max-age=365000000, immutable, public")
        super().end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write((fmt % args) + "\n")
        sys.stderr.flush()

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
  echo ok >"$INDEX_CTL"
  INDEX_PORT=$(free_port)
  INDEX_LOG=$LOGS/index.server.log
  serve index "$INDEX_PORT" python3 "$WORK/index.py" "$idx" "$INDEX_PORT" "$INDEX_CTL"
}
index_mode() { echo "$*" >"$INDEX_CTL"; }
# index_lines_since N: the index log after its first N lines.
index_since() { tail -n +"$(( $1 + 1 ))" "$INDEX_LOG"; }
index_count() { wc -l <"$INDEX_LOG"; }
# wait_index_begin N SECONDS: wait until the log, after line N, shows a slow wheel begun.
wait_index_begin() {
  local i
  for i in $(seq $(( $2 * 5 ))); do
    index_since "$1" | grep -q 'BEGIN slow' && return 0
    sleep 0.2
  done
  return 1
}

# ------------------------------------------------------------------ apps and builds

# write_app DIR TAG [INSTALLER]: an app with tiers base (typing-extensions), mid (idna)
# and late (h11), from the local index, installed by pip (or INSTALLER); TAG goes into the
# requirements files' comments, so each app's installs have cache keys of their own.
write_app() {
  local d=$1 tag=$2 installer=${3:-pip}
  mkdir -p "$d/req" "$d/app"
  cat >"$d/strata.toml" <<EOF
# syntax=$FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[python]
installer = "$installer"
index-url = "http://127.0.0.1:$INDEX_PORT/simple"
[[python.layers]]
name = "base"
requirements = ["req/base.txt"]
[[python.layers]]
name = "mid"
requirements = ["req/mid.txt"]
[[python.layers]]
name = "late"
requirements = ["req/late.txt"]
[app]
include = ["app/"]
[run]
cmd = ["python", "-m", "app"]
EOF
  printf '# %s base\ntyping-extensions==4.16.0\n' "$tag" >"$d/req/base.txt"
  printf '# %s mid\nidna==3.20\n' "$tag" >"$d/req/mid.txt"
  printf '# %s late\nh11==0.16.0\n' "$tag" >"$d/req/late.txt"
  : >"$d/app/__init__.py"
  printf 'import h11, idna, typing_extensions\nprint(idna.encode("faults.example").decode())\n' >"$d/app/__main__.py"
}

# pbuild DIR LOGNAME IMAGE [buildx args...]: build DIR on the private engine, rawjson
# progress into $LOGS/LOGNAME.log (sets LOG), with a timeout.
pbuild() {
  local dir=$1 name=$2 image=$3; shift 3
  LOG=$LOGS/$name.log
  local args=(buildx build --network host --load --progress=rawjson -f "$dir/strata.toml" -t "$image")
  echo "+ docker ${args[*]} $* $dir" >"$LOG"
  DOCKER_HOST=unix://$PSOCK timeout "$BUILD_TIMEOUT" docker "${args[@]}" "$@" "$dir" >>"$LOG" 2>&1
}
first_error() { grep -m1 -iE 'error|failed' "$LOG" | cut -c1-300; }

# install_ran LOG TIER: whether the log shows the install of TIER executing.
install_ran() { executed "$1" | grep -q "install tier $2\$"; }
runs_ok() { # IMAGE
  local out; out=$(P run --rm --network none "$1" 2>&1)
  [ "$out" = faults.example ] || { fail "$1 printed '$out'"; return 1; }
}

# ------------------------------------------------------------------ tests

test_preflight() {
  [ "$(id -u)" = 0 ] || { fail "needs root (starts a dockerd)"; return 1; }
  [ -x "$STACK_HOME/bin/dockerd" ] || { fail "no $STACK_HOME/bin/dockerd (run scripts/dockerstack.sh up)"; return 1; }
  command -v docker-registry >/dev/null || { fail "no docker-registry (Debian package docker-registry)"; return 1; }
  command -v jq >/dev/null || { fail "jq is needed"; return 1; }
  for img in "$BASE_IMAGE" "$FRONTEND"; do
    DOCKER_HOST=$SHARED_DOCKER docker image inspect "$img" >/dev/null 2>&1 \
      || { fail "$img is not on the shared daemon (scripts/dockerstack.sh base, scripts/build-frontend-image.sh)"; return 1; }
  done
  start_engine || return 1
  start_registry || return 1
  LOG=$LOGS/load.log
  DOCKER_HOST=$SHARED_DOCKER docker save "$BASE_IMAGE" "$FRONTEND" 2>>"$LOG" | P load >>"$LOG" 2>&1 \
    || { fail "could not copy the images into the private engine: $(tail -n 1 "$LOG")"; return 1; }
  start_index || return 1
}

APP1=$WORK/app1
test_daemon_killed_mid_install() {
  write_app "$APP1" "kill-$RUN_ID"
  local img=faults/kill:$RUN_ID before n
  before=$(P image ls -q | sort -u | wc -l)
  n=$(index_count)
  index_mode slow idna 60
  pbuild "$APP1" kill-1 "$img" &
  local bpid=$!
  wait_index_begin "$n" 120 || { kill "$bpid" 2>/dev/null; fail "the build never reached tier mid's wheel download"; return 1; }
  kill_engine KILL
  wait "$bpid" && { fail "the build survived its daemon's SIGKILL"; return 1; }
  index_mode ok
  start_engine || return 1
  P image inspect "$img" >/dev/null 2>&1 && { fail "the killed build tagged $img"; return 1; }
  local after; after=$(P image ls -q | sort -u | wc -l)
  [ "$after" = "$before" ] || { fail "the killed build left images behind ($before before, $after after)"; return 1; }
  pbuild "$APP1" kill-2 "$img" || { fail "the build after the restart failed: $(first_error)"; return 1; }
  install_ran "$LOG" base && { fail "tier base, finished before the kill, was installed again"; return 1; }
  install_ran "$LOG" mid || { fail "tier mid (killed mid-install) did not run again"; return 1; }
  runs_ok "$img"
}

DF=$WORK/dockerfile
write_dockerfile() {
  mkdir -p "$DF"
  printf 'FROM %s\nRUN echo %s > /marker\n' "$BASE_IMAGE" "$RUN_ID" >"$DF/Dockerfile"
}
# both_builds NAME CACHE_ARGS...: the strata app and a Dockerfile, each with the cache
# args; sets S_RC, D_RC, S_IMG_OK, D_IMG_OK (1 when the tag exists afterwards).
both_builds() {
  local name=$1; shift
  write_dockerfile
  local simg=faults/$name-strata:$RUN_ID dimg=faults/$name-df:$RUN_ID
  pbuild "$APP1" "$name-strata" "$simg" "$@"; S_RC=$?; S_LOG=$LOG
  LOG=$LOGS/$name-df.log
  echo "+ docker buildx build --progress=plain $* $DF" >"$LOG"
  DOCKER_HOST=unix://$PSOCK timeout "$BUILD_TIMEOUT" docker buildx build --network host --load \
    --progress=plain -t "$dimg" "$@" "$DF" >>"$LOG" 2>&1; D_RC=$?; D_LOG=$LOG
  S_IMG_OK=0 D_IMG_OK=0
  P image inspect "$simg" >/dev/null 2>&1 && S_IMG_OK=1
  P image inspect "$dimg" >/dev/null 2>&1 && D_IMG_OK=1
  echo "strata: exit $S_RC, image $S_IMG_OK; Dockerfile: exit $D_RC, image $D_IMG_OK" >>"$LOGS/$name.summary"
}

test_registry_down_cache_to() {
  [ -f "$APP1/strata.toml" ] || write_app "$APP1" "kill-$RUN_ID"
  stop_registry
  local ref=127.0.0.1:$REG_PORT/faults/cache:$RUN_ID
  both_builds cacheto --cache-to "type=registry,ref=$ref,mode=max"
  start_registry || return 1
  LOG=$S_LOG
  [ "$D_RC" != 0 ] || { fail "the Dockerfile build succeeded with its --cache-to registry down (the test assumes it fails)"; return 1; }
  [ "$S_RC" != 0 ] || { fail "the strata build succeeded although its --cache-to registry was down (Dockerfile: exit $D_RC)"; return 1; }
  [ "$S_IMG_OK" = "$D_IMG_OK" ] || { fail "strata image tagged: $S_IMG_OK, Dockerfile's: $D_IMG_OK"; return 1; }
  grep -q "127.0.0.1:$REG_PORT" "$S_LOG" || { fail "the strata build's error does not name the registry 127.0.0.1:$REG_PORT"; return 1; }
  grep -Eiq 'connection refused|dial tcp' "$S_LOG" || { fail "the strata build's error does not say the registry is unreachable"; return 1; }
}

test_registry_down_cache_from() {
  [ -f "$APP1/strata.toml" ] || write_app "$APP1" "kill-$RUN_ID"
  stop_registry
  local ref=127.0.0.1:$REG_PORT/faults/cache-from:$RUN_ID
  both_builds cachefrom --cache-from "type=registry,ref=$ref"
  start_registry || return 1
  LOG=$S_LOG
  [ "$S_RC" = 0 ] || { fail "the strata build failed with its --cache-from registry down: $(first_error)"; return 1; }
  [ "$S_IMG_OK" = 1 ] || { fail "the strata build produced no image"; return 1; }
  [ "$D_RC" = 0 ] && [ "$D_IMG_OK" = 1 ] || { fail "the Dockerfile build did not produce its image (exit $D_RC)"; return 1; }
  # The warning: the import's own vertex, failed, as in the Dockerfile build.
  grep -q "importing cache manifest from $ref" "$S_LOG" \
    || { fail "the strata build shows no cache import of $ref"; return 1; }
  grep -q 'failed to configure registry cache importer' "$S_LOG" \
    || { fail "the strata build does not say the cache import failed"; return 1; }
  grep -q 'failed to configure registry cache importer' "$D_LOG" \
    || { fail "the Dockerfile build does not say the cache import failed (the comparison is off)"; return 1; }
  runs_ok "faults/cachefrom-strata:$RUN_ID"
}

APP3=$WORK/app3
test_index_500() {
  write_app "$APP3" "500-$RUN_ID"
  local img=faults/i500:$RUN_ID
  index_mode 500
  LOG=$LOGS/i500-1.log
  echo "+ build with the index answering 500" >"$LOG"
  DOCKER_HOST=unix://$PSOCK timeout "$BUILD_TIMEOUT" docker buildx build --network host --load \
    --progress=plain -f "$APP3/strata.toml" -t "$img" "$APP3" >>"$LOG" 2>&1
  local rc=$?
  index_mode ok
  [ "$rc" != 0 ] || { fail "the build succeeded with the index answering 500"; return 1; }
  P image inspect "$img" >/dev/null 2>&1 && { fail "the failed build tagged $img"; return 1; }
  # The error: what buildx prints after the failing step (the step's name, its last log
  # lines, the ERROR line).
  local err; err=$(sed -n '/^------$/,$p' "$LOG")
  [ -n "$err" ] || err=$(tail -n 30 "$LOG")
  echo "$err" >"$LOGS/i500-error.txt"
  grep -q 'tier base' <<<"$err" || { fail "the error does not name tier base"; return 1; }
  grep -q "127.0.0.1:$INDEX_PORT/simple" <<<"$err" || { fail "the error does not name the index http://127.0.0.1:$INDEX_PORT/simple"; return 1; }
  grep -q 'typing-extensions' <<<"$err" || { fail "the error does not name the package typing-extensions"; return 1; }
  # strata's own last line (frontend/plan/src/python.rs failure_line), whatever pip prints.
  grep -qF "strata: tier base: pip install of req/base.txt from http://127.0.0.1:$INDEX_PORT/simple failed" <<<"$err" \
    || { fail "the error lacks strata's line naming the tier, its files and the index"; return 1; }
  pbuild "$APP3" i500-2 "$img" || { fail "the rebuild after the index recovered failed: $(first_error)"; return 1; }
  install_ran "$LOG" base || { fail "the rebuild did not run tier base's install again (a failure was cached?)"; return 1; }
  runs_ok "$img"
}

APP6=$WORK/app6
test_index_unreachable() {
  # An index nobody listens on, then one that answers on that port.
  local port; port=$(free_port)
  INDEX_PORT=$port write_app "$APP6" "down-$RUN_ID"   # for this call only
  local img=faults/idown:$RUN_ID
  LOG=$LOGS/idown-1.log
  echo "+ build with nothing listening on the index's port $port" >"$LOG"
  DOCKER_HOST=unix://$PSOCK timeout "$BUILD_TIMEOUT" docker buildx build --network host --load \
    --progress=plain -f "$APP6/strata.toml" -t "$img" "$APP6" >>"$LOG" 2>&1
  local rc=$?
  [ "$rc" != 0 ] || { fail "the build succeeded with its index unreachable"; return 1; }
  P image inspect "$img" >/dev/null 2>&1 && { fail "the failed build tagged $img"; return 1; }
  local err; err=$(sed -n '/^------$/,$p' "$LOG")
  echo "$err" >"$LOGS/idown-error.txt"
  grep -qF "strata: tier base: pip install of req/base.txt from http://127.0.0.1:$port/simple failed" <<<"$err" \
    || { fail "the error lacks strata's line naming the tier, its files and the index"; return 1; }
  grep -q 'typing-extensions' <<<"$err" || { fail "the error does not name the package typing-extensions"; return 1; }
  serve index-late "$port" python3 "$WORK/index.py" "$WORK/index" "$port" "$INDEX_CTL" || return 1
  pbuild "$APP6" idown-2 "$img" || { fail "the rebuild once the index answers failed: $(first_error)"; return 1; }
  install_ran "$LOG" base || { fail "the rebuild did not run tier base's install again"; return 1; }
  runs_ok "$img"
}

APP4=$WORK/app4
test_sigint_mid_install() {
  # uv: pip keeps no wheel from a plain-http index that is not a --trusted-host (its
  # cache adapter is mounted for https and trusted hosts only), uv caches them all.
  write_app "$APP4" "int-$RUN_ID" uv
  local img=faults/int:$RUN_ID n
  n=$(index_count)
  index_mode slow idna 60
  LOG=$LOGS/int-1.log
  echo "+ build interrupted with SIGINT" >"$LOG"
  DOCKER_HOST=unix://$PSOCK docker buildx build --network host --load --progress=rawjson \
    -f "$APP4/strata.toml" -t "$img" "$APP4" >>"$LOG" 2>&1 &
  local bpid=$!
  wait_index_begin "$n" 120 || { kill "$bpid" 2>/dev/null; fail "the build never reached tier mid's wheel download"; return 1; }
  kill -INT "$bpid"
  local i
  for i in $(seq 100); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$bpid" 2>/dev/null && { kill -9 "$bpid"; fail "buildx did not stop within 20 s of SIGINT"; return 1; }
  wait "$bpid" && { fail "the interrupted build exited 0"; return 1; }
  index_mode ok
  P image inspect "$img" >/dev/null 2>&1 && { fail "the interrupted build tagged $img"; return 1; }
  pbuild "$APP4" int-2 "$img" || { fail "the rebuild after SIGINT failed: $(first_error)"; return 1; }
  install_ran "$LOG" mid || { fail "the rebuild did not install tier mid"; return 1; }
  runs_ok "$img" || return 1
  # Another install of the same wheels: a new tier (late, now asking for h11 and
  # typing-extensions) finds them in the uv cache mount the interrupted build shared.
  n=$(index_count)
  printf '# int-%s late, again\ntyping-extensions==4.16.0\nh11==0.16.0\n' "$RUN_ID" >"$APP4/req/late.txt"
  pbuild "$APP4" int-3 "$img" || { fail "the build after the late tier's change failed: $(first_error)"; return 1; }
  install_ran "$LOG" late || { fail "tier late did not install again after its change"; return 1; }
  local got; got=$(index_since "$n" | grep -E '"GET /packages/[^ ]*\.whl' || true)
  [ -z "$got" ] || { fail "the second install downloaded wheels again (uv cache mount not reused): $(echo "$got" | head -n 2 | paste -sd ' ' -)"; return 1; }
  runs_ok "$img"
}

APP5=$WORK/app5
# Each service's system packages (from the base image's Debian mirror): runtime
# packages, so the five services keep one builder and share every tier; s4 and s5 add a
# package, so three distinct runtime apt installs run at once on the same locked apt
# cache mounts (strata-apt-*|release|platform).
APT_PKGS=('"tini"' '"tini"' '"tini"' '"tini", "bc"' '"tini", "tree"')
APT_BIN=(tini tini tini bc tree)
test_five_services_concurrent() {
  mkdir -p "$APP5/req" "$APP5/app"
  local i
  {
    printf '# syntax=%s\nversion = 1\n[image]\nbase = "%s"\n' "$FRONTEND" "$BASE_IMAGE"
    printf '[python]\nindex-url = "http://127.0.0.1:%s/simple"\n' "$INDEX_PORT"
    printf '[[python.layers]]\nname = "shared"\nrequirements = ["req/shared.txt"]\n'
    printf '[[python.layers]]\nname = "extra"\nrequirements = ["req/extra.txt"]\n'
    printf '[app]\ninclude = ["app/"]\n'
    for i in 1 2 3 4 5; do
      printf '[services.s%s]\nlayers = ["shared"%s]\nimage.env = { SERVICE = "s%s" }\nrun.cmd = ["python", "-m", "app"]\nsystem.packages = [%s]\n' \
        "$i" "$([ "$i" -gt 3 ] && echo ', "extra"')" "$i" "${APT_PKGS[$((i - 1))]}"
    done
  } >"$APP5/strata.toml"
  printf '# conc-%s shared\ntyping-extensions==4.16.0\nidna==3.20\n' "$RUN_ID" >"$APP5/req/shared.txt"
  printf '# conc-%s extra\niniconfig==2.3.1\n' "$RUN_ID" >"$APP5/req/extra.txt"
  : >"$APP5/app/__init__.py"
  printf 'import os, idna\nprint(os.environ["SERVICE"], idna.encode("faults.example").decode())\n' >"$APP5/app/__main__.py"

  local n; n=$(index_count)
  index_mode slow idna 3        # keeps the shared install running while all builds arrive
  local pid; pid=$(cat "$PD/dockerd.pid")
  local peak=$WORK/peak
  ( max=0; while kill -0 "$pid" 2>/dev/null; do
      r=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null); r=${r:-0}
      [ "$r" -gt "$max" ] && { max=$r; echo "$max" >"$peak"; }
      sleep 0.5
    done ) &
  local poller=$! t0; t0=$(date +%s.%N)
  local pids=()
  for i in 1 2 3 4 5; do
    pbuild "$APP5" "conc-s$i" "faults/conc-s$i:$RUN_ID" --target "s$i" & pids+=($!)
  done
  pbuild "$APP5" conc-export "faults/conc-export:$RUN_ID" --target s4 \
    --cache-to "type=registry,ref=127.0.0.1:$REG_PORT/faults/conc:$RUN_ID,mode=max" & pids+=($!)
  local bad=()
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || bad+=("$i:$?"); done
  local t1; t1=$(date +%s.%N)
  kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null
  index_mode ok
  local hwm; hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  echo "  five services + a cache export: ${wall}s wall; private dockerd RSS peak $(( $(cat "$peak" 2>/dev/null || echo 0) / 1024 )) MiB during the builds, VmHWM $(( ${hwm:-0} / 1024 )) MiB" | tee "$LOGS/conc.figures"
  [ ${#bad[@]} = 0 ] || { LOG=$LOGS/conc-s1.log; fail "builds failed or timed out (index:exit ${bad[*]}; 124 is the ${BUILD_TIMEOUT}s timeout)"; return 1; }
  local pages; pages=$(index_since "$n" | grep -c '"GET /simple/typing-extensions/' || true)
  # pip fetches a package's index page once per install (it caches no page from http).
  # Runtime packages stay off the builder, so the five services have one builder and
  # each tier is installed once, whichever build gets there first.
  [ "$pages" = 1 ] || { fail "tier shared was installed $pages times (index page requests), not once (the five services share one builder)"; return 1; }
  pages=$(index_since "$n" | grep -c '"GET /simple/iniconfig/' || true)
  [ "$pages" = 1 ] || { fail "tier extra was installed $pages times, not once (s4 and s5 share it)"; return 1; }
  local apt; apt=$(cat "$LOGS"/conc-*.log | grep -o '"name": *"\[s[0-9]\] [^"]*apt-get install[^"]*"' | sort -u | wc -l)
  [ "$apt" = 3 ] || { fail "$apt distinct apt installs, not 3 (the runtime installs of three package sets, on one locked apt cache)"; return 1; }
  for i in 1 2 3 4 5; do
    local out; out=$(P run --rm --network none "faults/conc-s$i:$RUN_ID" 2>&1)
    [ "$out" = "s$i faults.example" ] || { fail "service s$i printed '$out'"; return 1; }
    P run --rm --network none --entrypoint sh "faults/conc-s$i:$RUN_ID" -c "command -v ${APT_BIN[$((i - 1))]}" >/dev/null 2>&1 \
      || { fail "service s$i lacks its system package ${APT_BIN[$((i - 1))]}"; return 1; }
  done
  curl -sf "http://127.0.0.1:$REG_PORT/v2/faults/conc/tags/list" | grep -q "$RUN_ID" \
    || { fail "the concurrent cache export is not in the registry"; return 1; }
}

# The shared engine's docker0, seen before the first test: the private engines must
# leave it (and so the shared engine's networking) as it was.
HOST_BRIDGE_BEFORE=$(ip -br link show docker0 2>/dev/null | awk '{print $1}')
test_host_bridge_untouched() {
  stop_engine
  local now; now=$(ip -br link show docker0 2>/dev/null | awk '{print $1}')
  [ "$now" = "$HOST_BRIDGE_BEFORE" ] || { fail "the host's docker0 was '${HOST_BRIDGE_BEFORE:-absent}' before the suite and is '${now:-absent}' after it"; return 1; }
}

TESTS=(test_preflight test_daemon_killed_mid_install test_registry_down_cache_to
       test_registry_down_cache_from test_index_500 test_index_unreachable test_sigint_mid_install
       test_five_services_concurrent test_host_bridge_untouched)
T0=$(date +%s)
run_tests; rc=$?
echo "faults suite: $(( $(date +%s) - T0 ))s" >&2
exit "$rc"
