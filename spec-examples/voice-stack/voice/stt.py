"""stt: reads a WAV file, resamples it to 16 kHz and "recognises" it (a toy model)."""

import io

import numpy as np
import soundfile as sf
import soxr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from voice.common import health_route

RATE = 16000


async def transcribe(request: Request) -> JSONResponse:
    audio, rate = sf.read(io.BytesIO(await request.body()), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != RATE:
        mono = soxr.resample(mono, rate, RATE)
    return JSONResponse({"seconds": round(len(mono) / RATE, 3),
                         "peak": round(float(np.abs(mono).max(initial=0.0)), 3),
                         "text": "<toy model: no words>"})


app = Starlette(routes=[health_route("stt"), Route("/transcribe", transcribe, methods=["POST"])])
