"""Reports which variant it was built as and what its base image provides."""

import importlib.metadata as md
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The distribution each variant's "accel" tier installs (stand-ins for torch builds).
ACCEL_PACKAGES = {"cpu": "threadpoolctl", "cuda": "nvidia-ml-py", "rocm": "pyrsmi"}


def installed() -> list[str]:
    out = []
    for dist in ACCEL_PACKAGES.values():
        try:
            out.append(f"{dist}=={md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    return out


async def health(request: Request) -> JSONResponse:
    return JSONResponse({
        "status": "ok",
        "variant": os.environ.get("ACCELERATOR", ""),
        "accel_packages": installed(),
        # What the base image says about itself (NVIDIA's CUDA images set CUDA_VERSION;
        # ROCm images have /opt/rocm).
        "cuda_version": os.environ.get("CUDA_VERSION"),
        "rocm": os.path.isdir("/opt/rocm"),
    })


app = Starlette(routes=[Route("/health", health)])
