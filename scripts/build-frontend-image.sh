#!/usr/bin/env bash
# scripts/build-frontend-image.sh — build strata as a static binary on the host and load it into
# the local Docker as the frontend image strata/frontend:dev (usable as `# syntax=strata/frontend:dev`).
#
# usage: scripts/build-frontend-image.sh [--tag TAG] [--bin PATH]
#   --tag TAG   image tag (default $STRATA_FRONTEND_IMAGE, else strata/frontend:dev)
#   --bin PATH  package this binary instead of building one with cargo
# Needs the engine up (scripts/dockerstack.sh up). Progress goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"

TAG=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
BIN=
TARGET=x86_64-unknown-linux-gnu
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die frontend "unknown argument: $1" ;;
  esac
done
export DOCKER_HOST=${DOCKER_HOST:-unix://$STRATA_DOCKER_SOCK}

if [ -z "$BIN" ]; then
  say frontend "cargo build --release --target $TARGET -p strata (static)"
  # --target keeps build scripts and proc-macros dynamic; only the binary is linked statically.
  (cd "$ROOT" && RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$TARGET" -p strata)
  BIN=$ROOT/target/$TARGET/release/strata
fi
[ -x "$BIN" ] || die frontend "no executable at $BIN"
# The image has nothing but the binary: it must not need a dynamic loader.
if readelf -l "$BIN" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  die frontend "$BIN is dynamically linked; build it with -C target-feature=+crt-static"
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$BIN" "$ctx/strata"
say frontend "building $TAG"
docker buildx build --load --provenance=false --progress=quiet \
  -f "$HERE/frontend-local.Dockerfile" -t "$TAG" "$ctx" >/dev/null
say frontend "$TAG ready ($(docker image inspect -f '{{.Id}}' "$TAG" | cut -c1-19), $(du -h "$BIN" | cut -f1) binary)"
