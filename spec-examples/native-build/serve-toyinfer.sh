#!/usr/bin/env bash
# serve-toyinfer.sh [PORT]: publish toyinfer/ as a git repository on git://127.0.0.1:PORT
# (default 9418), tagged v0.1.0, for building this example by hand. Runs `git daemon` in
# the foreground; stop it with Ctrl-C. Prints the commit to pass as
# --build-arg TOYINFER_COMMIT_SHA_OR_TAG=... (the tag v0.1.0 works as well).
set -euo pipefail
PORT=${1:-9418}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp -a "$HERE/toyinfer" "$TMP/work"
git -C "$TMP/work" init -q -b main
git -C "$TMP/work" add -A
git -C "$TMP/work" -c user.name=strata -c user.email=strata@localhost commit -qm "toyinfer $(cat "$HERE/toyinfer/VERSION")"
git -C "$TMP/work" tag v0.1.0
git clone -q --bare "$TMP/work" "$TMP/toyinfer.git"
echo "serving git://127.0.0.1:$PORT/toyinfer.git at $(git -C "$TMP/toyinfer.git" rev-parse v0.1.0) (tag v0.1.0)"
git daemon --reuseaddr --export-all --base-path="$TMP" --listen=127.0.0.1 --port="$PORT" "$TMP"
