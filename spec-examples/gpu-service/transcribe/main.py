"""Transcription service: POST an audio file to /transcribe, get the text back."""

import logging
import os
import shutil
import tempfile

from fastapi import FastAPI, UploadFile

import fastmel

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "info").upper())
log = logging.getLogger("transcribe")
app = FastAPI()
_model = None


def model():
    global _model
    if _model is None:
        from faster_whisper import WhisperModel

        device = "cuda" if os.environ.get("ACCELERATOR") == "cuda" else "cpu"
        _model = WhisperModel(os.environ["WHISPER_MODEL"], device=device, compute_type="int8")
    return _model


@app.get("/health")
def health() -> dict:
    import torch

    return {
        "status": "ok",
        "variant": os.environ.get("ACCELERATOR", ""),
        "cuda": torch.cuda.is_available(),
        "ffmpeg": shutil.which("ffmpeg") is not None,
        "frames_per_second": fastmel.frames(16000, 400, 160),
    }


@app.post("/transcribe")
async def transcribe(audio: UploadFile) -> dict:
    with tempfile.NamedTemporaryFile(suffix=audio.filename or ".wav") as f:
        f.write(await audio.read())
        f.flush()
        segments, info = model().transcribe(f.name)
        text = "".join(s.text for s in segments).strip()
    log.debug("transcribed %s: %d chars, language %s", audio.filename, len(text), info.language)
    return {"language": info.language, "text": text}
