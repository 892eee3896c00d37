# Shared helpers for strata's scripts. Source it; it defines functions only.
# shellcheck shell=bash

# The engine that scripts/dockerstack.sh starts listens on Docker's default socket.
STRATA_DOCKER_SOCK=${STRATA_DOCKER_SOCK:-/var/run/docker.sock}

# say PREFIX MESSAGE...: one line of progress on stderr.
say() { local p=$1; shift; printf '%s: %s\n' "$p" "$*" >&2; }

# die PREFIX MESSAGE...: print and exit 1.
die() { say "$@"; exit 1; }

# deb_installed PKG: true when the Debian package is installed.
deb_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

# ensure_debs PKG...: install the Debian packages that are missing. `apt-get update`
# runs at most once per process tree (STRATA_APT_UPDATED is exported after it).
ensure_debs() {
  local missing=() p
  for p in "$@"; do deb_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || { say strata "need root to install: ${missing[*]}"; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  if [ "${STRATA_APT_UPDATED:-}" != 1 ]; then
    say strata "apt-get update"
    # A broken third-party source must not stop us: Debian's own lists are what we need.
    apt-get update -qq >/dev/null 2>&1 || say strata "apt-get update reported errors (continuing)"
    export STRATA_APT_UPDATED=1
  fi
  say strata "installing ${missing[*]}"
  local out
  if ! out=$(apt-get install -y -qq --no-install-recommends "${missing[@]}" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

# wait_for SECONDS COMMAND...: retry COMMAND every half second until it succeeds.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}
