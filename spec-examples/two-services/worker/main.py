"""A small Starlette service that runs jobs in the background and reports them."""

import hashlib
import itertools

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common import service_info

_ids = itertools.count(1)
_results: dict[int, str] = {}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def _run(job_id: int, payload: bytes) -> None:
    _results[job_id] = hashlib.sha256(payload).hexdigest()


async def health(request: Request) -> Response:
    return JSON({"status": "ok", **service_info("worker"), "jobs_done": len(_results)})


async def submit(request: Request) -> Response:
    job_id = next(_ids)
    body = await request.body()
    return JSON({"job": job_id}, status_code=202, background=BackgroundTask(_run, job_id, body))


async def result(request: Request) -> Response:
    job_id = int(request.path_params["job_id"])
    if job_id not in _results:
        return JSON({"job": job_id, "done": False}, status_code=404)
    return JSON({"job": job_id, "done": True, "sha256": _results[job_id]})


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/jobs", submit, methods=["POST"]),
        Route("/jobs/{job_id:int}", result),
    ]
)
