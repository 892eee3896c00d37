"""tts: turns text into a WAV file (a toy voice: one tone per character)."""

import io

import numpy as np
import soundfile as sf
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from voice.common import health_route

RATE = 16000


def synthesize(text: str) -> bytes:
    t = np.arange(int(RATE * 0.05)) / RATE
    tones = [0.2 * np.sin(2 * np.pi * (200 + 10 * (ord(c) % 64)) * t) for c in text or " "]
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(tones).astype(np.float32), RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


async def speak(request: Request) -> Response:
    text = (await request.body()).decode("utf-8", "replace")
    return Response(synthesize(text), media_type="audio/wav")


app = Starlette(routes=[health_route("tts"), Route("/speak", speak, methods=["POST"])])
