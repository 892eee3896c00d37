"""What every voice service shares: its /health endpoint and what it runs on."""

import importlib.metadata as md
import os

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _installed(dist: str) -> bool:
    try:
        md.version(dist)
    except md.PackageNotFoundError:
        return False
    return True


def runtime_info(service: str) -> dict[str, object]:
    """The service, whether the cuda tier is installed, and the CUDA base it runs on."""
    return {
        "service": service,
        "status": "ok",
        "cuda_tier": _installed("nvidia-ml-py"),
        # Set by NVIDIA's CUDA base images (and by the stand-in base of the tests).
        "cuda_version": os.environ.get("CUDA_VERSION"),
    }


def health_route(service: str) -> Route:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse(runtime_info(service))

    return Route("/health", health)
