"""Serves toyinfer's dense layer over HTTP: the library and the weights were built by
the spec's [[build]] steps (CMake from git, and a Rust tool) and copied into the image."""

import ctypes
import os
import struct

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HOME = os.environ.get("TOYINFER_HOME", "/opt/toyinfer")
LIB = ctypes.CDLL(os.path.join(HOME, "lib", "libtoyinfer.so"))
LIB.toyinfer_version.restype = ctypes.c_char_p
LIB.toyinfer_dense_relu.argtypes = [ctypes.POINTER(ctypes.c_float)] * 3 + [ctypes.c_int] * 2


def _load_weights(path: str) -> tuple[int, int, ctypes.Array]:
    with open(path, "rb") as f:
        data = f.read()
    rows, cols = struct.unpack_from("<II", data)
    return rows, cols, (ctypes.c_float * (rows * cols)).from_buffer_copy(data, 8)


ROWS, COLS, WEIGHTS = _load_weights(os.path.join(HOME, "share", "weights", "weights.bin"))


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "toyinfer": LIB.toyinfer_version().decode(),
                         "weights": [ROWS, COLS]})


async def infer(request: Request) -> JSONResponse:
    x = (await request.json()).get("x", [])
    if len(x) != COLS:
        return JSONResponse({"error": f"x must have {COLS} numbers"}, status_code=422)
    xs = (ctypes.c_float * COLS)(*x)
    y = (ctypes.c_float * ROWS)()
    if LIB.toyinfer_dense_relu(WEIGHTS, xs, y, ROWS, COLS) != 0:
        return JSONResponse({"error": "toyinfer failed"}, status_code=500)
    return JSONResponse({"y": list(y)})


app = Starlette(routes=[Route("/health", health), Route("/infer", infer, methods=["POST"])])
