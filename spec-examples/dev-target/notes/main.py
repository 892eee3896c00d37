"""Notes kept in memory: create, list, fetch."""

import itertools

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_ids = itertools.count(1)
_notes: dict[int, str] = {}


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "notes": len(_notes)})


async def notes(request: Request) -> JSONResponse:
    if request.method == "POST":
        text = (await request.json()).get("text", "")
        if not text:
            return JSONResponse({"error": "empty note"}, status_code=422)
        note_id = next(_ids)
        _notes[note_id] = text
        return JSONResponse({"id": note_id, "text": text}, status_code=201)
    return JSONResponse([{"id": i, "text": t} for i, t in sorted(_notes.items())])


async def note(request: Request) -> JSONResponse:
    note_id = request.path_params["note_id"]
    if note_id not in _notes:
        return JSONResponse({"error": "no such note"}, status_code=404)
    return JSONResponse({"id": note_id, "text": _notes[note_id]})


app = Starlette(routes=[
    Route("/health", health),
    Route("/notes", notes, methods=["GET", "POST"]),
    Route("/notes/{note_id:int}", note),
])
