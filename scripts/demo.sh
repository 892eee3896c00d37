#!/usr/bin/env bash
# scripts/demo.sh — strata from nothing to an answering container, on a Debian 12 machine as root:
# starts the local Docker stack, imports the python base image, builds the frontend image,
# builds spec-examples/fastapi-hello with `docker buildx build -f strata.toml`, runs it,
# prints what it answers, and stops the container. The stack stays up for more builds;
# `scripts/dockerstack.sh down` stops it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$HERE/lib.sh"

EXAMPLE=$ROOT/spec-examples/fastapi-hello
IMAGE=strata-demo/fastapi-hello
NAME=strata-demo-hello
PORT=8000
log() { say demo "$@"; }

# The static frontend binary is linked on the host: it needs a C toolchain and readelf.
ensure_debs ca-certificates curl gcc libc6-dev binutils
"$HERE/dockerstack.sh" up
"$HERE/dockerstack.sh" base
"$HERE/build-frontend-image.sh"
export DOCKER_HOST=unix://$STRATA_DOCKER_SOCK

log "docker buildx build --network host --load -f spec-examples/fastapi-hello/strata.toml -t $IMAGE spec-examples/fastapi-hello"
docker buildx build --network host --load -f "$EXAMPLE/strata.toml" -t "$IMAGE" "$EXAMPLE"

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die demo "port $PORT is in use on this host; stop what listens there and rerun"
fi
docker rm -f "$NAME" >/dev/null 2>&1 || true
log "docker run -d --network host --name $NAME $IMAGE"
docker run -d --network host --name "$NAME" "$IMAGE" >/dev/null
trap 'docker rm -f "$NAME" >/dev/null 2>&1 || true' EXIT

if ! wait_for 60 curl -fsS "http://127.0.0.1:$PORT/health"; then
  docker logs --tail 20 "$NAME" >&2 || true
  die demo "the app did not answer on :$PORT/health"
fi
log "GET http://127.0.0.1:$PORT/health -> $(curl -fsS "http://127.0.0.1:$PORT/health")"
log "GET http://127.0.0.1:$PORT/"
curl -fsS "http://127.0.0.1:$PORT/"
echo
log "stopping the container; the Docker stack stays up (DOCKER_HOST=$DOCKER_HOST; scripts/dockerstack.sh down stops it)"
