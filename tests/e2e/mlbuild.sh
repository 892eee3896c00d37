#!/usr/bin/env bash
# tests/e2e/mlbuild.sh — end-to-end tests of the ML and native build keys (issue 13) through a
# real BuildKit: a tier whose local sdist imports a package of an earlier tier at build time
# (`build-isolation = false`) and sees the tier's `env`; `build-constraints` pinning an
# isolated build environment (with pip, and with installer = "uv"); a C extension built by a [[build]] step against a tier's venv
# (`venv`, `wheels-dir`) and installed as a tier (`wheels`); a step whose wheels-dir is empty;
# and a build step that downloads with a BuildKit secret (`secrets`) whose value is in no
# layer, config, log or cache key; and a step with `ssh = true` that lists the keys of the
# client's agent (`--ssh default`); a private git source fetched with a token secret
# (`auth-secret`, and BuildKit's GIT_AUTH_TOKEN.<host>).
#
# Packages are made by this script (tiny wheels and sdists) and served with setuptools (two
# versions, fetched once from PyPI on the host into $STRATA_CACHE) from a PEP 503 index on
# 127.0.0.1; builds use --network host. The C extension's builder needs gcc and the Python
# headers from apt (deb.debian.org over http).
#
# Assumes the engine is up, localhost/python:3.11-bookworm exists and the frontend image
# exists (scripts/build-frontend-image.sh). Needs docker buildx, jq, python3 and pip.
#
# usage: tests/e2e/mlbuild.sh [--frontend IMAGE] [--work DIR] [--only REGEX] [--keep]
#   --frontend IMAGE  frontend to build with (default $STRATA_FRONTEND_IMAGE, else
#                     strata/frontend:dev); another image is passed as BUILDKIT_SYNTAX
#   --work DIR        scratch directory (default .strata-e2e/mlbuild/)
#   --only REGEX      run only the tests whose name matches (and the builds they check)
#   --keep            keep the scratch files and the images built
# Each test prints `ok NAME` or `FAIL NAME: reason`; the last line is `N passed, N failed`.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FRONTEND=${STRATA_FRONTEND_IMAGE:-strata/frontend:dev}
DEFAULT_FRONTEND=strata/frontend:dev
WORK=$ROOT/.strata-e2e/mlbuild
ONLY=
KEEP=0
BASE_IMAGE=localhost/python:3.11-bookworm
CACHE=${STRATA_CACHE:-/var/cache/strata}
STRATA_BIN=${STRATA_BIN:-$ROOT/target/debug/strata}
SETUPTOOLS_NEW=80.9.0
SETUPTOOLS_OLD=75.8.0
UV_VERSION=0.13.9        # strata's pinned uv (frontend/plan/src/python.rs UV_VERSION)
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

while [ $# -gt 0 ]; do
  case "$1" in
    --frontend) FRONTEND=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done

RUN_ID=$$-$(date +%s)
LABEL=strata-e2e-mlbuild.run=$RUN_ID
NS=localhost/strata-e2e-mlbuild-$$
LOGS=$WORK/logs
SRV=$WORK/srv
TMP=$WORK/tmp
rm -rf "$LOGS" "$SRV" "$TMP" "$WORK/specs"
mkdir -p "$LOGS" "$SRV" "$TMP" "$WORK/specs"

BUILT=()
cleanup() {
  stop_servers
  [ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null
  docker ps -aq --filter "label=$LABEL" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
  if [ "$KEEP" = 0 ]; then
    rm -rf "$SRV" "$TMP" "$WORK/specs"
    [ ${#BUILT[@]} -gt 0 ] && docker image rm "${BUILT[@]}" >/dev/null 2>&1
  fi
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build LOGNAME CONTEXT IMAGE PROGRESS [extra buildx args...]; sets LOG.
build() {
  local name=$1 ctx=$2 image=$3 progress=$4; shift 4
  LOG=$LOGS/$name.log
  BUILT+=("$image")
  local args=(buildx build --network host --load --provenance=false --progress="$progress"
              -f "$ctx/strata.toml" -t "$image")
  [ "$FRONTEND" != "$DEFAULT_FRONTEND" ] && args+=(--build-arg "BUILDKIT_SYNTAX=$FRONTEND")
  echo "+ docker ${args[*]} $* $ctx" >"$LOG"
  docker "${args[@]}" "$@" "$ctx" >>"$LOG" 2>&1 && return 0
  tail -n 3 "$LOG" | grep -qx 'ERROR: failed to solve: not found' || return 1
  echo "+ (again: the daemon answered a bare 'not found')" >>"$LOG"
  docker "${args[@]}" "$@" "$ctx" >>"$LOG" 2>&1
}
ran_again() { ran_not_cached "$1" | grep -E -- "$2" || true; }
config() { docker image inspect "$1" 2>/dev/null | jq -c ".[0].Config | $2"; }
in_image() { docker run --rm --network none --label "$LABEL" --entrypoint "$2" "$1" "${@:3}"; }

# grep_image IMAGE NEEDLE: where NEEDLE occurs in the saved image (config, layer files).
grep_image() {
  local t=$TMP/$(echo "$1" | tr '/:' '__').tar
  docker save -o "$t" "$1" >/dev/null 2>&1 || { echo "docker save failed"; return 0; }
  python3 - "$t" "$2" <<'PY'
import json, sys, tarfile
outer = tarfile.open(sys.argv[1]); needle = sys.argv[2].encode()
manifest = json.load(outer.extractfile("manifest.json"))[0]
for m in outer.getmembers():
    if m.isfile() and m.name not in manifest["Layers"] and needle in outer.extractfile(m).read():
        print("outer:" + m.name)
for i, blob in enumerate(manifest["Layers"]):
    with tarfile.open(fileobj=outer.extractfile(blob), mode="r:*") as t:
        for m in t:
            if needle in m.name.encode() or (m.isfile() and needle in t.extractfile(m).read()):
                print(f"layer {i}: {m.name}")
PY
  rm -f "$t"
}

# ------------------------------------------------------------------ the index

# make_index DIR: the packages of these tests in DIR/packages and a PEP 503 index of them
# in DIR/simple.
make_index() {
  local dir=$1 st=$CACHE/mlbuild-wheels v
  mkdir -p "$dir/packages" "$st" 2>/dev/null || st=$WORK/cache
  mkdir -p "$st"
  for v in "$SETUPTOOLS_NEW" "$SETUPTOOLS_OLD"; do
    ls "$st"/setuptools-"$v"-py3-none-any.whl >/dev/null 2>&1 \
      || python3 -m pip download -q --no-deps --only-binary :all: -d "$st" "setuptools==$v" >>"$LOGS/pip-download.log" 2>&1 \
      || { fail "pip download setuptools==$v failed: $(tail -n 2 "$LOGS/pip-download.log")"; return 1; }
    cp "$st"/setuptools-"$v"-py3-none-any.whl "$dir/packages/"
  done
  # uv itself, which strata installs from the spec's index for installer = "uv".
  ls "$st"/uv-"$UV_VERSION"-*.whl >/dev/null 2>&1 \
    || python3 -m pip download -q --no-deps --only-binary :all: -d "$st" "uv==$UV_VERSION" >>"$LOGS/pip-download.log" 2>&1 \
    || { fail "pip download uv==$UV_VERSION failed: $(tail -n 2 "$LOGS/pip-download.log")"; return 1; }
  cp "$st"/uv-"$UV_VERSION"-*.whl "$dir/packages/"
  python3 - "$dir" <<'PY' || { fail "could not make the index's packages"; return 1; }
import base64, hashlib, io, os, sys, tarfile, zipfile
root = sys.argv[1]
pk = f"{root}/packages"

def wheel(name, version, files):
    dist = f"{name}-{version}"
    meta = f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n".encode()
    files = dict(files)
    files[f"{dist}.dist-info/METADATA"] = meta
    files[f"{dist}.dist-info/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    rec = "".join(f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}\n"
                  for p, b in files.items()) + f"{dist}.dist-info/RECORD,,\n"
    files[f"{dist}.dist-info/RECORD"] = rec.encode()
    with zipfile.ZipFile(f"{pk}/{dist}-py3-none-any.whl", "w") as z:
        for p, b in files.items():
            z.writestr(p, b)

def sdist(name, version, setup_py):
    dist = f"{name}-{version}"
    files = {
        "pyproject.toml": b'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
        "setup.py": setup_py.encode(),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}/__init__.py": b"",
    }
    with tarfile.open(f"{pk}/{dist}.tar.gz", "w:gz") as t:
        for p, b in files.items():
            ti = tarfile.TarInfo(f"{dist}/{p}"); ti.size = len(b)
            t.addfile(ti, io.BytesIO(b))

# The package an earlier tier installs, imported by the next tier's setup.py.
wheel("strata_e2e_helper", "1.0", {"strata_e2e_helper.py": b"VALUE = 'helper-42'\n"})
# Built with build-isolation = false: imports the helper and records the tier's env.
sdist("strata_e2e_needs", "1.0", """
import os
import strata_e2e_helper
from setuptools import setup
os.makedirs("strata_e2e_needs", exist_ok=True)
with open("strata_e2e_needs/_built.py", "w") as f:
    f.write(f"HELPER = {strata_e2e_helper.VALUE!r}\\nMAX_JOBS = {os.environ.get('STRATA_E2E_MAX_JOBS')!r}\\n")
setup(name="strata_e2e_needs", version="1.0", packages=["strata_e2e_needs"])
""")
# Built in an isolated environment: records which setuptools it got.
sdist("strata_e2e_pinned", "1.0", """
import os, setuptools
from setuptools import setup
os.makedirs("strata_e2e_pinned", exist_ok=True)
with open("strata_e2e_pinned/_built.py", "w") as f:
    f.write(f"SETUPTOOLS = {setuptools.__version__!r}\\n")
setup(name="strata_e2e_pinned", version="1.0", packages=["strata_e2e_pinned"])
""")

projects = {}
for f in sorted(os.listdir(pk)):
    base = f[:-len(".tar.gz")] if f.endswith(".tar.gz") else f
    project = base.split("-")[0].replace("_", "-").lower()
    projects.setdefault(project, []).append(f)
for project, fs in projects.items():
    os.makedirs(f"{root}/simple/{project}", exist_ok=True)
    links = "".join(
        f'<a href="../../packages/{f}#sha256={hashlib.sha256(open(f"{pk}/{f}", "rb").read()).hexdigest()}">{f}</a>\n'
        for f in fs)
    open(f"{root}/simple/{project}/index.html", "w").write(f"<html><body>\n{links}</body></html>\n")
PY
}

INDEX_PORT=
test_preflight() {
  docker info >/dev/null 2>&1 || { fail "docker is not reachable at $DOCKER_HOST"; return 1; }
  docker buildx version >/dev/null 2>&1 || { fail "docker buildx is missing"; return 1; }
  local c; for c in jq python3; do command -v $c >/dev/null || { fail "$c is missing"; return 1; }; done
  has_image "$BASE_IMAGE" || { fail "$BASE_IMAGE is missing (scripts/dockerstack.sh base)"; return 1; }
  has_image "$FRONTEND" || { fail "frontend image $FRONTEND is missing (scripts/build-frontend-image.sh)"; return 1; }
  make_index "$SRV/index" || return 1
  INDEX_PORT=$(free_port)
  serve index "$INDEX_PORT" python3 -m http.server --bind 127.0.0.1 --directory "$SRV/index" "$INDEX_PORT"
}

# ------------------------------------------------------------------ tiers and native wheels

ML=$WORK/specs/ml
ML_IMG=$NS/ml:1
write_ml() {
  mkdir -p "$ML/cext/strata_cext"
  printf 'setuptools==%s\nstrata-e2e-helper==1.0\n' "$SETUPTOOLS_NEW" >"$ML/requirements-tools.txt"
  echo "strata-e2e-needs==1.0" >"$ML/requirements-needs.txt"
  echo "strata-e2e-pinned==1.0" >"$ML/requirements-pinned.txt"
  echo "setuptools==$SETUPTOOLS_OLD" >"$ML/constraints-build.txt"
  cat >"$ML/cext/strata_cext/add.c" <<'C'
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
  long a, b;
  if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
  return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "strata_cext._add", NULL, -1, methods};
PyMODINIT_FUNC PyInit__add(void) { return PyModule_Create(&mod); }
C
  cat >"$ML/cext/strata_cext/__init__.py" <<'PY'
from ._add import add
PY
  cat >"$ML/cext/pyproject.toml" <<'TOML'
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
TOML
  cat >"$ML/cext/setup.py" <<'PY'
import strata_e2e_helper  # from the venv the step runs in (tier tools)
from setuptools import Extension, setup
setup(name="strata-cext", version="1.0", packages=["strata_cext"],
      ext_modules=[Extension("strata_cext._add", ["strata_cext/add.c"])])
PY
  cat >"$ML/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[system]
build-packages = ["gcc", "libc6-dev", "libpython3.11-dev"]
[python]
index-url = "http://127.0.0.1:$INDEX_PORT/simple"

[[python.layers]]
name = "tools"
requirements = ["requirements-tools.txt"]

[[python.layers]]
name = "needs"
requirements = ["requirements-needs.txt"]
build-isolation = false
env = { STRATA_E2E_MAX_JOBS = "4" }

[[python.layers]]
name = "pinned"
requirements = ["requirements-pinned.txt"]
build-constraints = ["constraints-build.txt"]

[[python.layers]]
name = "native"
wheels = ["cext"]

[[build]]
name = "cext"
context = ["cext/"]
venv = "tools"
env = { CFLAGS = "-O2" }
wheels-dir = "/src/dist"
run = ["pip wheel --no-build-isolation --no-deps -w /src/dist ./cext"]

[app]
include = []
EOF
}

test_ml_builds() {
  rm -rf "$ML"; mkdir -p "$ML"
  write_ml
  build ml "$ML" "$ML_IMG" plain || { fail "the build failed: $(grep -m1 -iE 'error|strata:' "$LOG")"; return 1; }
}

test_build_isolation_off_builds_against_the_venv_and_sees_env() {
  need_image "$ML_IMG" || return 1
  local out; out=$(in_image "$ML_IMG" python3 -c 'import strata_e2e_needs._built as b; print(b.HELPER, b.MAX_JOBS)' 2>&1)
  [ "$out" = "helper-42 4" ] || { fail "the sdist was not built against tier tools with the tier's env: $out"; return 1; }
  # The env is the install step's only, never the image's.
  config "$ML_IMG" '.Env' | grep -q STRATA_E2E_MAX_JOBS && { fail "the tier's env is in the image config"; return 1; }
  # The flag is in that tier's install step only (strata explain of the same spec).
  [ -x "$STRATA_BIN" ] || return 0
  "$STRATA_BIN" explain "$ML/strata.toml" >"$TMP/ml.explain" 2>&1 || { fail "strata explain failed"; return 1; }
  local n; n=$(grep -- ' install --cache-dir' "$TMP/ml.explain" | grep -c -- '--no-build-isolation')
  [ "$n" = 1 ] || fail "--no-build-isolation is in $n install steps, not in exactly one"
}

test_build_constraints_pin_the_isolated_build() {
  need_image "$ML_IMG" || return 1
  local out; out=$(in_image "$ML_IMG" python3 -c 'import strata_e2e_pinned._built as b; print(b.SETUPTOOLS)' 2>&1)
  [ "$out" = "$SETUPTOOLS_OLD" ] || fail "the isolated build used setuptools $out, not the pinned $SETUPTOOLS_OLD"
}

test_native_wheel_is_importable_from_the_venv() {
  need_image "$ML_IMG" || return 1
  local out; out=$(in_image "$ML_IMG" python3 -c 'import strata_cext, sys; print(strata_cext.add(2, 3), strata_cext.__file__.startswith(sys.prefix))' 2>&1)
  [ "$out" = "5 True" ] || { fail "strata_cext is not importable from the venv: $out"; return 1; }
  # Only the wheel reached the image: no compiler, no sources, no wheels-dir.
  in_image "$ML_IMG" sh -c '! command -v gcc && test ! -e /src' >/dev/null \
    || fail "gcc or /src is in the image"
}

# A tier's env is in its own cache key only: changing it re-runs that tier (and the ones
# after it, as any change of a tier does), never the tier before it.
test_tier_env_changes_only_that_tier_s_key() {
  need_image "$ML_IMG" || return 1
  sed -i 's/STRATA_E2E_MAX_JOBS = "4"/STRATA_E2E_MAX_JOBS = "5"/' "$ML/strata.toml"
  build ml-env "$ML" "$NS/ml:env" rawjson || { fail "the rebuild failed"; return 1; }
  local tools needs
  tools=$(ran_again "$LOG" '\] pip install tier tools$')
  needs=$(ran_again "$LOG" '\] pip install tier needs$')
  [ -z "$tools" ] || { fail "tier tools re-ran after an env change of tier needs"; return 1; }
  [ -n "$needs" ] || { fail "tier needs did not re-run after its env changed"; return 1; }
  local out; out=$(in_image "$NS/ml:env" python3 -c 'import strata_e2e_needs._built as b; print(b.MAX_JOBS)' 2>&1)
  [ "$out" = 5 ] || fail "the rebuilt sdist saw MAX_JOBS=$out, not 5 (a wheel built against the old env was reused?)"
}

test_empty_wheels_dir_names_the_step() {
  local dir=$WORK/specs/nowheels
  rm -rf "$dir"; mkdir -p "$dir"
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[[python.layers]]
name = "native"
wheels = ["nothing"]
[[build]]
name = "nothing"
wheels-dir = "/src/dist"
run = ["mkdir -p /src/dist"]
[app]
include = []
EOF
  if build nowheels "$dir" "$NS/nowheels:1" plain; then fail "the build succeeded with an empty wheels-dir"; return 1; fi
  grep -qF 'build step `nothing` left no wheels in its wheels-dir /src/dist' "$LOG" \
    || fail "the error does not name the step: $(grep -m1 ERROR "$LOG")"
}

# The same tier settings with installer = "uv" (--no-build-isolation --refresh, the tier's
# env, --build-constraint).
test_uv_tiers_honour_build_isolation_env_and_build_constraints() {
  local dir=$WORK/specs/ml-uv img=$NS/ml-uv:1 out
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'setuptools==%s\nstrata-e2e-helper==1.0\n' "$SETUPTOOLS_NEW" >"$dir/requirements-tools.txt"
  echo "strata-e2e-needs==1.0" >"$dir/requirements-needs.txt"
  echo "strata-e2e-pinned==1.0" >"$dir/requirements-pinned.txt"
  echo "setuptools==$SETUPTOOLS_OLD" >"$dir/constraints-build.txt"
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[python]
installer = "uv"
index-url = "http://127.0.0.1:$INDEX_PORT/simple"
[[python.layers]]
name = "tools"
requirements = ["requirements-tools.txt"]
[[python.layers]]
name = "needs"
requirements = ["requirements-needs.txt"]
build-isolation = false
env = { STRATA_E2E_MAX_JOBS = "8" }
[[python.layers]]
name = "pinned"
requirements = ["requirements-pinned.txt"]
build-constraints = ["constraints-build.txt"]
[app]
include = []
EOF
  build ml-uv "$dir" "$img" plain || { fail "the build failed: $(grep -m1 -iE 'error|strata:' "$LOG")"; return 1; }
  out=$(in_image "$img" python3 -c 'import strata_e2e_needs._built as b, strata_e2e_pinned._built as p; print(b.HELPER, b.MAX_JOBS, p.SETUPTOOLS)' 2>&1)
  [ "$out" = "helper-42 8 $SETUPTOOLS_OLD" ] || fail "uv: expected 'helper-42 8 $SETUPTOOLS_OLD', got: $out"
}

# ------------------------------------------------------------------ secrets

test_secret_download_is_in_the_image_and_the_token_nowhere() {
  local dir=$WORK/specs/token img=$NS/token:1 port canary weights
  canary=strata-token-$RANDOM$RANDOM-$(date +%s%N)
  weights=weights-$RANDOM$RANDOM
  port=$(free_port)
  rm -rf "$dir"; mkdir -p "$dir" "$SRV/models"
  printf '%s' "$weights" >"$SRV/models/model.bin"
  cat >"$TMP/tokenserver.py" <<'PY'
import functools, http.server, sys
root, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get("Authorization") == f"Bearer {token}"
        print(f"GET {self.path} auth={'ok' if ok else 'bad'}", flush=True)
        if not ok:
            self.send_response(401); self.end_headers(); return
        super().do_GET()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(H, directory=root)).serve_forever()
PY
  serve models "$port" python3 "$TMP/tokenserver.py" "$SRV/models" "$port" "$canary" || return 1
  printf '%s' "$canary" >"$TMP/token"
  cat >"$dir/fetch.py" <<'PY'
import sys, urllib.request
url, token, dest = sys.argv[1:]
req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
open(dest, "wb").write(urllib.request.urlopen(req).read())
print("fetched", dest)
PY
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[[build]]
name = "model"
context = ["fetch.py"]
secrets = ["hf-token"]
env = { MODEL_URL = "http://127.0.0.1:$port/model.bin" }
run = [
  "mkdir -p /opt/model",
  "python3 fetch.py \"\$MODEL_URL\" \"\$(cat /run/secrets/hf-token)\" /opt/model/model.bin",
]
outputs = { "/opt/model" = "/opt/model" }
[app]
include = []
EOF
  build token "$dir" "$img" plain --secret "id=hf-token,src=$TMP/token" \
    || { fail "the build failed: $(grep -m1 -i error "$LOG")"; return 1; }
  grep -q 'GET /model.bin auth=ok' "$LOGS/models.server.log" || { fail "the server never saw the token"; return 1; }
  [ "$(in_image "$img" cat /opt/model/model.bin)" = "$weights" ] || { fail "the model is not in the image"; return 1; }
  grep -qF "$canary" "$LOG" && { fail "the token is in the build log"; return 1; }
  docker image inspect "$img" | grep -qF "$canary" && { fail "the token is in the image config"; return 1; }
  local found; found=$(grep_image "$img" "$canary")
  [ -z "$found" ] || { fail "the token is in the image: $found"; return 1; }
  in_image "$img" sh -c 'test ! -e /run/secrets/hf-token' || { fail "/run/secrets/hf-token is in the image"; return 1; }
  if [ -x "$STRATA_BIN" ]; then
    "$STRATA_BIN" llb "$dir/strata.toml" --json >"$TMP/token.llb" 2>&1 || { fail "strata llb failed"; return 1; }
    grep -aqF "$canary" "$TMP/token.llb" && { fail "the token is in the LLB"; return 1; }
    grep -aqF hf-token "$TMP/token.llb" || { fail "the LLB does not name the secret hf-token"; return 1; }
  fi
  # The value is in no cache key: another token reuses the step (the server would refuse it).
  printf 'other-%s' "$RANDOM" >"$TMP/token2"
  build token-again "$dir" "$NS/token:2" rawjson --secret "id=hf-token,src=$TMP/token2" \
    || { fail "the rebuild with another token failed (the step ran again?)"; return 1; }
  local ran; ran=$(ran_again "$LOG" '\] build model$')
  [ -z "$ran" ] || { fail "another token value re-ran the step (the value is in a cache key)"; return 1; }
  # Without the secret the step cannot run, and the error names it.
  if build token-missing "$dir" "$NS/token:missing" plain --no-cache; then
    fail "the build succeeded without --secret id=hf-token"; return 1
  fi
  grep -qi 'secret hf-token' "$LOG" || fail "the error without the secret does not name hf-token: $(grep -m1 ERROR "$LOG")"
}

# ------------------------------------------------------------------ ssh agent

AGENT_PID=
test_ssh_agent_reaches_the_step_only_when_given() {
  local dir=$WORK/specs/ssh img=$NS/ssh:1 comment out
  command -v ssh-agent >/dev/null && command -v ssh-keygen >/dev/null && command -v ssh-add >/dev/null \
    || { skip "ssh-agent, ssh-keygen or ssh-add is missing"; return 0; }
  comment=strata-e2e-key-$RANDOM$RANDOM
  rm -rf "$dir" "$TMP/agent.sock" "$TMP/key" "$TMP/key.pub"; mkdir -p "$dir"
  out=$(ssh-agent -s -a "$TMP/agent.sock") || { fail "ssh-agent did not start"; return 1; }
  AGENT_PID=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' <<<"$out")
  ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "$TMP/key" >/dev/null \
    && SSH_AUTH_SOCK=$TMP/agent.sock ssh-add -q "$TMP/key" 2>/dev/null \
    || { fail "could not add a key to the agent"; return 1; }
  # Lists the agent's identities through SSH_AUTH_SOCK (SSH_AGENTC_REQUEST_IDENTITIES).
  cat >"$dir/agent.py" <<'PY'
import os, socket, struct
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["SSH_AUTH_SOCK"])
s.sendall(struct.pack(">IB", 1, 11))
def read(n):
    b = b""
    while len(b) < n:
        b += s.recv(n - len(b))
    return b
n, = struct.unpack(">I", read(4)); msg = read(n)
assert msg[0] == 12, msg[0]
count, = struct.unpack(">I", msg[1:5]); i = 5
for _ in range(count):
    for part in ("blob", "comment"):
        l, = struct.unpack(">I", msg[i:i + 4]); v = msg[i + 4:i + 4 + l]; i += 4 + l
    print(v.decode())
PY
  cat >"$dir/strata.toml" <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[[build]]
name = "agent"
context = ["agent.py"]
ssh = true
env = { EXPECT = "$comment" }
run = ["mkdir -p /opt/agent", "python3 agent.py > /opt/agent/keys"]
outputs = { "/opt/agent" = "/opt/agent" }
[app]
include = []
EOF
  build ssh "$dir" "$img" plain --ssh "default=$TMP/agent.sock" \
    || { fail "the build with --ssh default failed: $(grep -m1 -i error "$LOG")"; return 1; }
  grep -qx "$comment" <<<"$(in_image "$img" cat /opt/agent/keys)" || { fail "the step did not see the agent's key"; return 1; }
  if build ssh-missing "$dir" "$NS/ssh:missing" plain --no-cache; then
    fail "the build succeeded without --ssh default"; return 1
  fi
  grep -qi 'ssh' <<<"$(grep ERROR "$LOG")" || fail "the error without --ssh does not say so: $(grep -m1 ERROR "$LOG")"
}

# ------------------------------------------------------------------ git credentials

test_git_source_authenticates_with_a_token_secret() {
  command -v git >/dev/null || { skip "git is missing"; return 0; }
  local dir=$WORK/specs/gitauth w=$TMP/private-work srv=$SRV/git port canary commit img=$NS/gitauth:1
  canary=strata-git-token-$RANDOM$RANDOM-$(date +%s%N)
  rm -rf "$dir" "$w" "$srv"; mkdir -p "$dir" "$w" "$srv"
  echo "private sources" >"$w/README"
  git -C "$w" init -q -b main && git -C "$w" add -A \
    && git -C "$w" -c user.name=e2e -c user.email=e2e@localhost commit -qm private \
    && git clone -q --bare "$w" "$srv/private.git" && git -C "$srv/private.git" update-server-info \
    || { fail "could not make the repository"; return 1; }
  commit=$(git -C "$w" rev-parse HEAD)
  # A "dumb" HTTP remote that answers 401 unless BuildKit sends the token as it does:
  # Authorization: basic base64(x-access-token:TOKEN).
  cat >"$TMP/gitauth.py" <<'PY'
import base64, functools, http.server, sys
root, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
good = "basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization")
        ok = auth is not None and auth.lower() == good.lower()
        print(f"GET {self.path} auth={'ok' if ok else ('missing' if auth is None else 'bad')}", flush=True)
        if not ok:
            self.send_response(401); self.send_header("WWW-Authenticate", 'Basic realm="git"'); self.end_headers(); return
        super().do_GET()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(H, directory=root)).serve_forever()
PY
  port=$(free_port)
  serve gitauth "$port" python3 "$TMP/gitauth.py" "$srv" "$port" "$canary" || return 1
  printf '%s' "$canary" >"$TMP/git-token"
  local spec_for
  spec_for() {
    cat <<EOF
# syntax=$DEFAULT_FRONTEND
version = 1
[image]
base = "$BASE_IMAGE"
[[build]]
name = "private"
git = { url = "http://127.0.0.1:$port/private.git", ref = "$commit"$1 }
run = ["mkdir -p /opt/private", "cp README /opt/private/"]
outputs = { "/opt/private" = "/opt/private" }
[app]
include = []
EOF
  }
  spec_for ', auth-secret = "repo-token"' >"$dir/strata.toml"
  build gitauth "$dir" "$img" plain --secret "id=repo-token,src=$TMP/git-token" \
    || { fail "the build with the token failed: $(grep -m1 -i error "$LOG")"; return 1; }
  grep -q 'auth=ok' "$LOGS/gitauth.server.log" || { fail "the git remote never got the token"; return 1; }
  [ "$(in_image "$img" cat /opt/private/README)" = "private sources" ] || { fail "the private sources are not in the image"; return 1; }
  grep -qF "$canary" "$LOG" && { fail "the token is in the build log"; return 1; }
  docker image inspect "$img" | grep -qF "$canary" && { fail "the token is in the image config"; return 1; }
  local found; found=$(grep_image "$img" "$canary")
  [ -z "$found" ] || { fail "the token is in the image: $found"; return 1; }
  # Without `auth-secret`, BuildKit's conventional GIT_AUTH_TOKEN.<host> (a new commit, so
  # the fetch is not a cache hit).
  echo "v2" >>"$w/README"
  git -C "$w" -c user.name=e2e -c user.email=e2e@localhost commit -qam v2 \
    && git -C "$w" push -q "$srv/private.git" main && git -C "$srv/private.git" update-server-info \
    || { fail "could not push a second commit"; return 1; }
  commit=$(git -C "$w" rev-parse HEAD)
  spec_for '' >"$dir/strata.toml"
  build gitauth-default "$dir" "$NS/gitauth:2" plain --secret "id=GIT_AUTH_TOKEN.127.0.0.1:$port,src=$TMP/git-token" \
    || { fail "the build with GIT_AUTH_TOKEN.<host> failed: $(grep -m1 -i error "$LOG")"; return 1; }
  grep -q v2 <<<"$(in_image "$NS/gitauth:2" cat /opt/private/README)" || { fail "the second commit is not in the image"; return 1; }
  # No token, no sources (a third commit: BuildKit keeps what it fetched before).
  echo "v3" >>"$w/README"
  git -C "$w" -c user.name=e2e -c user.email=e2e@localhost commit -qam v3 \
    && git -C "$w" push -q "$srv/private.git" main && git -C "$srv/private.git" update-server-info \
    || { fail "could not push a third commit"; return 1; }
  commit=$(git -C "$w" rev-parse HEAD)
  spec_for '' >"$dir/strata.toml"
  if build gitauth-none "$dir" "$NS/gitauth:none" plain; then
    fail "the private remote was fetched without a token"; return 1
  fi
  return 0
}

# ------------------------------------------------------------------ runner

TESTS=(
  test_preflight
  test_ml_builds
  test_build_isolation_off_builds_against_the_venv_and_sees_env
  test_build_constraints_pin_the_isolated_build
  test_native_wheel_is_importable_from_the_venv
  test_tier_env_changes_only_that_tier_s_key
  test_empty_wheels_dir_names_the_step
  test_uv_tiers_honour_build_isolation_env_and_build_constraints
  test_secret_download_is_in_the_image_and_the_token_nowhere
  test_ssh_agent_reaches_the_step_only_when_given
  test_git_source_authenticates_with_a_token_secret
)
selected() {
  local t=$1
  [ -z "$ONLY" ] || [ "$t" = test_preflight ] || [[ "${t#test_}" =~ $ONLY ]] && return 0
  case "$t" in
    test_ml_builds) [[ "build_isolation_off build_constraints native_wheel tier_env" =~ $ONLY ]] && return 0 ;;
  esac
  return 1
}

run_tests
