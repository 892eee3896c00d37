"""core: takes a user's turn and says which services handle it, in order."""

import itertools

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from voice.common import health_route

_turns = itertools.count(1)


async def turn(request: Request) -> Response:
    body = orjson.loads(await request.body() or b"{}")
    kind = "audio" if body.get("audio") else "text"
    route = ["vad", "stt", "llm", "tts"] if kind == "audio" else ["llm", "tts"]
    return Response(orjson.dumps({"turn": next(_turns), "input": kind, "route": route}),
                    media_type="application/json")


app = Starlette(routes=[health_route("core"), Route("/turn", turn, methods=["POST"])])
