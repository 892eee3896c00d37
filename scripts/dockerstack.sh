#!/usr/bin/env bash
# scripts/dockerstack.sh — a local Docker engine and registry for building and testing strata.
#
#   up      install on first use, then start dockerd (Docker 26.1, BuildKit 0.13, buildx 0.13,
#           containerd image store) on /var/run/docker.sock and a registry on 127.0.0.1:5000.
#           Whatever is already running is used as is and left alone.
#   base    import localhost/python:3.11-bookworm (Debian 12 minbase + python3, venv, pip,
#           curl, with this host's extra CA certificates trusted), built by debootstrap once
#           and cached as a tarball under /var/cache/strata.
#   down    stop what `up` started (only that), as recorded in the record file.
#   status  what is running, what `up` started, versions.
#
# Debian 12 as root; non-interactive. Environment:
#   STRATA_STACK_RECORD  file where `up` records what it starts and `down` reads it
#                        (default /run/strata-dockerstack/started); scripts/test.sh sets its own
#                        so that it stops only what it started.
#   STRATA_CACHE         cache directory (default /var/cache/strata)
#   STRATA_DEBIAN_MIRROR Debian mirror for the engine packages and debootstrap
#                        (default http://deb.debian.org/debian)
# Progress goes to stderr; `status` prints to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"

STACK_HOME=${STRATA_STACK_HOME:-/opt/strata/dockerstack}   # installed engine binaries
STATE=${STRATA_STACK_STATE:-/run/strata-dockerstack}        # configs, logs, pid records
RECORD=${STRATA_STACK_RECORD:-$STATE/started}
CACHE=${STRATA_CACHE:-/var/cache/strata}
MIRROR=${STRATA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_ROOT=${STRATA_REGISTRY_ROOT:-/var/lib/strata-registry}
BASE_IMAGE=${STRATA_BASE_IMAGE:-localhost/python:3.11-bookworm}
BASE_INCLUDE=python3,python3-venv,python3-pip,ca-certificates,curl
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
export DOCKER_HOST=unix://$STRATA_DOCKER_SOCK

log() { say dockerstack "$@"; }
fail() { die dockerstack "$@"; }

docker_up() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }
registry_up() { curl -sf "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

# ---------------------------------------------------------------- install

# The engine comes from Debian 13 "trixie" (docker.io 26.1, containerd 1.7, docker-buildx
# 0.13); its binaries need only glibc 2.34 and run on Debian 12. The packages are fetched
# with a throw-away apt configuration: the system's sources are not touched.
fetch_trixie_debs() { # DIR PKG...
  local dir=$1; shift
  local t=$dir/apt
  mkdir -p "$t/lists/partial" "$t/cache/archives/partial" "$t/etc"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$MIRROR" >"$t/etc/trixie.sources"
  local A=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$t/etc"
           -o Dir::State::Lists="$t/lists" -o Dir::Cache="$t/cache"
           -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts="$t/etc"
           -o APT::Sandbox::User=root)
  apt-get "${A[@]}" update -qq >/dev/null 2>&1 || { apt-get "${A[@]}" update; return 1; }
  (cd "$dir" && apt-get "${A[@]}" download "$@" >/dev/null)
}

install_engine() {
  ensure_debs ca-certificates curl runc docker-registry debootstrap debian-archive-keyring
  local need_cli=0
  command -v docker >/dev/null || need_cli=1
  if [ -x "$STACK_HOME/bin/dockerd" ] && [ -x "$PLUGIN_DIR/docker-buildx" ] && [ $need_cli = 0 ]; then
    return 0
  fi
  log "installing Docker 26.1 + buildx from Debian trixie packages into $STACK_HOME"
  local t; t=$(mktemp -d)
  local pkgs=(docker.io containerd docker-buildx)
  [ $need_cli = 1 ] && pkgs+=(docker-cli)
  fetch_trixie_debs "$t" "${pkgs[@]}" || { rm -rf "$t"; fail "could not download ${pkgs[*]} from trixie"; }
  local f
  for f in "$t"/*.deb; do dpkg-deb -x "$f" "$t/root"; done
  pick() { # NAME: the one file of that name in the extracted tree
    local p; p=$(find "$t/root" -type f -name "$1" -perm -u+x | head -n1)
    [ -n "$p" ] || fail "no $1 in the trixie packages"
    printf '%s\n' "$p"
  }
  mkdir -p "$STACK_HOME/bin" "$PLUGIN_DIR"
  for f in dockerd containerd containerd-shim-runc-v2 ctr docker-init; do
    if [ "$f" = docker-init ]; then
      # `docker run --init` only; optional.
      local p; p=$(find "$t/root" -type f -name docker-init | head -n1)
      [ -n "$p" ] && install -m 0755 "$p" "$STACK_HOME/bin/"
      continue
    fi
    install -m 0755 "$(pick "$f")" "$STACK_HOME/bin/$f"
  done
  # trixie's runc needs glibc 2.38: use Debian 12's.
  ln -sf /usr/sbin/runc "$STACK_HOME/bin/runc"
  install -m 0755 "$(pick docker-buildx)" "$PLUGIN_DIR/docker-buildx"
  if [ $need_cli = 1 ]; then
    install -m 0755 "$t/root/usr/bin/docker" /usr/local/bin/docker
  fi
  rm -rf "$t"
  log "installed $("$STACK_HOME/bin/dockerd" --version)"
}

# ---------------------------------------------------------------- records

# The record file holds one line per process `up` started: NAME PID.
record() { mkdir -p "$(dirname "$RECORD")"; echo "$1 $2" >>"$RECORD"; }

# alive NAME PID: the process exists and is still that program (not a reused pid).
alive() {
  [ -r "/proc/$2/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$2/cmdline" | grep -q -- "$1"
}

# ---------------------------------------------------------------- up

start_dockerd() {
  mkdir -p "$STATE"
  # Containerd image store: local images can serve as `# syntax=` frontends and
  # --cache-to type=registry works with the default driver. No NAT, no port publishing.
  cat >"$STATE/daemon.json" <<'EOF'
{
  "features": { "containerd-snapshotter": true },
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": false
}
EOF
  log "starting dockerd (log $STATE/dockerd.log)"
  PATH=$STACK_HOME/bin:$PATH setsid dockerd --config-file "$STATE/daemon.json" \
    --pidfile "$STATE/dockerd.pid" --host "unix://$STRATA_DOCKER_SOCK" \
    >"$STATE/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  record dockerd "$pid"
  if ! wait_for 90 docker info; then
    tail -n 20 "$STATE/dockerd.log" >&2
    fail "dockerd did not come up"
  fi
}

start_registry() {
  mkdir -p "$STATE" "$REGISTRY_ROOT"
  cat >"$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_ROOT
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
  log "starting docker-registry on $REGISTRY_ADDR (log $STATE/registry.log)"
  setsid docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 </dev/null &
  local pid=$!
  record docker-registry "$pid"
  if ! wait_for 30 registry_up; then
    tail -n 20 "$STATE/registry.log" >&2
    fail "the registry did not come up"
  fi
}

cmd_up() {
  [ "$(id -u)" = 0 ] || fail "run as root"
  install_engine
  if docker_up; then
    log "docker already running ($(docker version -f '{{.Server.Version}}' 2>/dev/null)): using it"
  else
    start_dockerd
  fi
  docker buildx version >/dev/null 2>&1 || fail "docker buildx is not available (expected in $PLUGIN_DIR)"
  if registry_up; then
    log "registry already answering on $REGISTRY_ADDR: using it"
  else
    start_registry
  fi
  log "up: docker $(docker version -f '{{.Server.Version}}'), $(docker buildx version | awk '{print $1, $2}'), registry $REGISTRY_ADDR"
}

# ---------------------------------------------------------------- down

stop_pid() { # NAME PID
  local name=$1 pid=$2
  alive "$name" "$pid" || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 60); do alive "$name" "$pid" || return 0; sleep 0.5; done
  log "$name did not stop in 30s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
  if [ ! -s "$RECORD" ]; then
    log "nothing recorded in $RECORD: nothing to stop"
    return 0
  fi
  local name pid
  # Newest first: the registry, then dockerd (which stops its containers and containerd).
  while read -r name pid; do
    [ -n "$name" ] && stop_pid "$name" "$pid"
  done < <(tac "$RECORD")
  rm -f "$RECORD"
  log "down"
}

# ---------------------------------------------------------------- base

# The rootfs tarball is keyed by what goes into it: the package list and the CA certificates.
base_key() {
  {
    echo "bookworm minbase $BASE_INCLUDE $MIRROR"
    cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true
  } | sha256sum | cut -c1-16
}

make_rootfs_tar() { # OUT
  local out=$1 r
  ensure_debs debootstrap debian-archive-keyring
  mkdir -p "$CACHE"
  r=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  log "debootstrap bookworm into $r (about a minute)"
  if ! debootstrap --variant=minbase --include="$BASE_INCLUDE" bookworm "$r" "$MIRROR" \
      >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2
    rm -rf "$r"
    fail "debootstrap failed (log $CACHE/debootstrap.log)"
  fi
  # HTTPS from inside builds may go through a TLS-intercepting proxy whose CA this host
  # trusts: trust the same extra CAs in the image.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
    chroot "$r" update-ca-certificates >/dev/null 2>&1
  fi
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/tmp/* "$r"/var/log/*.log
  tar --numeric-owner -C "$r" -cf "$out.tmp" .
  mv "$out.tmp" "$out"
  rm -rf "$r"
}

cmd_base() {
  [ "$(id -u)" = 0 ] || fail "run as root"
  docker_up || fail "docker is not running: run '$0 up' first"
  local key tar
  key=$(base_key)
  tar=$CACHE/python-3.11-bookworm-$key.rootfs.tar
  if [ "${1:-}" != --force ] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE present"
    return 0
  fi
  if [ -s "$tar" ]; then
    log "using cached rootfs $tar"
  else
    rm -f "$CACHE"/python-3.11-bookworm-*.rootfs.tar   # stale keys
    make_rootfs_tar "$tar"
  fi
  log "importing $BASE_IMAGE"
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["python3"]' \
    "$tar" "$BASE_IMAGE" >/dev/null
  log "imported $BASE_IMAGE ($(docker run --rm --network none "$BASE_IMAGE" python3 --version 2>&1 || echo '?'))"
}

# ---------------------------------------------------------------- status

cmd_status() {
  local rc=0
  if docker_up; then
    echo "docker:    up, server $(docker version -f '{{.Server.Version}}') on $DOCKER_HOST"
    echo "buildx:    $(docker buildx version 2>/dev/null || echo missing)"
    echo "buildkit:  $(docker buildx inspect 2>/dev/null | awk -F': *' '/BuildKit version/ {print $2; exit}')"
    echo "storage:   $(docker info -f '{{.Driver}}' 2>/dev/null) $(docker info -f '{{json .DriverStatus}}' 2>/dev/null | grep -q io.containerd.snapshotter && echo '(containerd image store)')"
    local img
    for img in "$BASE_IMAGE" strata/frontend:dev; do
      if docker image inspect "$img" >/dev/null 2>&1; then echo "image:     $img present"; else echo "image:     $img absent"; fi
    done
  else
    echo "docker:    down"; rc=1
  fi
  if registry_up; then echo "registry:  up on $REGISTRY_ADDR"; else echo "registry:  down"; rc=1; fi
  if [ -s "$RECORD" ]; then
    local name pid
    while read -r name pid; do
      if alive "$name" "$pid"; then echo "started:   $name pid $pid (running)"; else echo "started:   $name pid $pid (gone)"; fi
    done <"$RECORD"
  else
    echo "started:   nothing recorded in $RECORD"
  fi
  return $rc
}

case "${1:-}" in
  up) cmd_up ;;
  base) shift; cmd_base "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|base [--force]|down|status" >&2; exit 2 ;;
esac
