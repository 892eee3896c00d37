# tests/e2e/lib.sh — the harness the end-to-end suites share; sourced, never run.
#
# A suite defines its tests as functions `test_NAME` that return 0 (passed; a test may call
# `skip REASON` first) or 1 after `fail REASON`, lists them in TESTS, and ends with
# `run_tests`. While a test runs, LOG names the log worth showing when it fails.
# The suite sets, before it uses what needs them: LOGS (a directory), LABEL (put on every
# container, which the suite's cleanup removes), RUN_ID, ONLY (a regex, may be empty) and,
# for wait_http, HEALTH_TIMEOUT (seconds).

REASON=
SKIP=
LOG=/dev/null
fail() { REASON=$*; return 1; }
skip() { SKIP=$*; return 0; }

has_image() { docker image inspect "$1" >/dev/null 2>&1; }
need_image() { has_image "$1" || fail "image $1 was not built (an earlier test failed)"; }

# ------------------------------------------------------------------ BuildKit progress

# vertices LOG: one line per vertex of a `--progress=rawjson` log, EXEC<TAB>HIT<TAB>RAN<TAB>
# INPUTS<TAB>NAME. The log's top-level objects are the blocks from a line `{` to a line `}`;
# other lines (the command, errors) are skipped.
#   HIT     BuildKit reported a cache hit for it
#   RAN     BuildKit started it (sources are started by every build)
#   INPUTS  how many inputs it has: 0 for sources (images, the spec, context views)
#   EXEC    it executed: an update of the solver's own (the one carrying the inputs) started
#           it without a cache hit. HIT alone misses a hit that ran anyway (an inline cache
#           holds keys of steps whose filesystems it does not have), and RAN alone counts a
#           registry layer pull, which shows as a run of its own. See tests/e2e/cache.sh.
# A vertex whose op another build on the daemon has too may carry that build's name.
vertices() {
  jq -rs '[.[] | .vertexes[]? | select(.digest != null)] | group_by(.digest)[]
          | {name: (map(.name) | map(select(. != null)) | last // ""),
             hit: (map(.cached // false) | any),
             ran: (map(.started != null) | any),
             exec: (map(select(.started != null and ((.cached // false) | not)
                               and ((.inputs // []) | length) > 0)) | length > 0),
             inputs: (map(.inputs // []) | add | unique | length)}
          | [(.exec | tostring), (.hit | tostring), (.ran | tostring), (.inputs | tostring), .name] | @tsv' \
    < <(sed -n '/^{/,/^}/p' "$1") 2>/dev/null
}

# executed LOG: the names of the steps (vertices with inputs: exec, file, diff, merge) that
# executed.
executed() {
  vertices "$1" | awk -F'\t' '$1 == "true" && $4 > 0 {print $5}' | sort -u || true
}

# ran_not_cached LOG: the names of the vertices that ran and were not cache hits.
ran_not_cached() {
  vertices "$1" | awk -F'\t' '$2 == "false" && $3 == "true" {print $5}' || true
}

# ------------------------------------------------------------------ servers and containers

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# serve NAME PORT COMMAND...: start a server in the background (its output in
# $LOGS/NAME.server.log), wait for its port. The caller kills the pids in SERVERS.
SERVERS=()
serve() {
  local name=$1 port=$2; shift 2
  "$@" >"$LOGS/$name.server.log" 2>&1 &
  SERVERS+=($!)
  local i
  for i in $(seq 50); do port_busy "$port" && return 0; sleep 0.1; done
  fail "$name did not listen on 127.0.0.1:$port: $(tail -n 3 "$LOGS/$name.server.log")"
}
stop_servers() { local p; for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done; return 0; }

# start NAME IMAGE PORT [docker run args...]: run IMAGE detached on the host network.
start() {
  local name=$1 image=$2 port=$3; shift 3
  port_busy "$port" && { fail "port $port is already in use on this host"; return 1; }
  docker run -d --network host --label "$LABEL" --name "$name-$RUN_ID" "$@" "$image" \
    >>"$LOGS/$name.run.log" 2>&1 || { fail "docker run $image failed: $(tail -n1 "$LOGS/$name.run.log")"; return 1; }
}
stop() { docker rm -f "$1-$RUN_ID" >/dev/null 2>&1 || true; }

# wait_http NAME PORT PATH: poll until http://127.0.0.1:PORT/PATH answers 2xx; body in $BODY.
wait_http() {
  local name=$1 port=$2 path=$3 deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
  BODY=
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if BODY=$(curl -fsS --max-time 3 "http://127.0.0.1:$port$path" 2>/dev/null); then return 0; fi
    if [ "$(docker inspect -f '{{.State.Running}}' "$name-$RUN_ID" 2>/dev/null)" != true ]; then
      fail "$name exited before answering on :$port$path; logs: $(docker logs --tail 5 "$name-$RUN_ID" 2>&1 | tr '\n' ' ')"
      return 1
    fi
    sleep 1
  done
  fail "$name: no answer on http://127.0.0.1:$port$path within ${HEALTH_TIMEOUT}s; logs: $(docker logs --tail 5 "$name-$RUN_ID" 2>&1 | tr '\n' ' ')"
}

# ------------------------------------------------------------------ the runner

# selected TEST: whether to run TEST under --only. test_preflight always runs. A suite may
# define its own after sourcing this file (e.g. to run the tests a selected test needs).
selected() { [ -z "$ONLY" ] || [ "$1" = test_preflight ] || [[ "${1#test_}" =~ $ONLY ]]; }

# run_tests: runs TESTS in order; prints `ok NAME (Ns)`, `skip NAME: why` or `FAIL NAME: why`
# with the last lines of its LOG, then `N passed, N failed[, N skipped]`. A failed preflight
# stops the run. Returns non-zero when a test failed; sets `failed` for the suite's cleanup.
failed=0
run_tests() {
  local t name start_s passed=0 skipped=0
  failed=0
  for t in "${TESTS[@]}"; do
    selected "$t" || continue
    name=${t#test_}
    REASON='' SKIP='' LOG=/dev/null
    start_s=$(date +%s)
    if "$t"; then
      if [ -n "$SKIP" ]; then
        echo "skip $name: $SKIP"
        skipped=$((skipped + 1))
      else
        echo "ok $name ($(( $(date +%s) - start_s ))s)"
        passed=$((passed + 1))
      fi
    else
      echo "FAIL $name: ${REASON:-failed}"
      if [ "$LOG" != /dev/null ] && [ -s "$LOG" ]; then
        echo "  (log: $LOG; last lines:)"
        grep -Ev '^[[:space:]]*([]{}["]|$)' "$LOG" | tail -n 8 | sed 's/^/  | /'
      fi
      failed=$((failed + 1))
      [ "$t" = test_preflight ] && break
    fi
  done
  if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  [ "$failed" = 0 ]
}
