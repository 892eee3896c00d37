"""vad: finds the speech in a WAV file by frame energy."""

import io

import numpy as np
import soundfile as sf
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from voice.common import health_route

FRAME_S = 0.03


def segments(audio: np.ndarray, rate: int, threshold: float = 0.01) -> list[list[float]]:
    n = max(1, int(rate * FRAME_S))
    frames = audio[: len(audio) // n * n].reshape(-1, n)
    voiced = np.sqrt((frames**2).mean(axis=1)) > threshold
    out: list[list[float]] = []
    for i, v in enumerate(voiced):
        if v and (not out or out[-1][1] != round(i * FRAME_S, 3)):
            out.append([round(i * FRAME_S, 3), round((i + 1) * FRAME_S, 3)])
        elif v:
            out[-1][1] = round((i + 1) * FRAME_S, 3)
    return out


async def detect(request: Request) -> JSONResponse:
    audio, rate = sf.read(io.BytesIO(await request.body()), dtype="float32", always_2d=True)
    return JSONResponse({"segments": segments(audio.mean(axis=1), rate)})


app = Starlette(routes=[health_route("vad"), Route("/vad", detect, methods=["POST"])])
