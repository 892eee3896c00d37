"""The app: `uvicorn hello.main:app`."""

import os
import platform

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI(title="hello")


class Greeting(BaseModel):
    message: str
    python: str


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/", response_model=Greeting)
def root() -> Greeting:
    return Greeting(
        message=os.environ.get("GREETING", "Hello from strata"),
        python=platform.python_version(),
    )
