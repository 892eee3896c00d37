"""`uvicorn svc.main:app`: health, a pandas summary and the database driver's build info."""

import os

import numpy as np
import orjson
import pandas as pd
import psycopg2
import structlog
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel

log = structlog.get_logger()
app = FastAPI(title="bench-svc")


class Summary(BaseModel):
    rows: int
    mean: float
    p95: float


class ORJSON(Response):
    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content)


@app.get("/health", response_class=ORJSON)
def health() -> dict[str, str]:
    return {"status": "ok", "env": os.environ.get("APP_ENV", "")}


@app.get("/summary", response_model=Summary)
def summary(rows: int = 1000) -> Summary:
    rng = np.random.default_rng(42)
    frame = pd.DataFrame({"latency_ms": rng.gamma(2.0, 20.0, size=rows)})
    col = frame["latency_ms"]
    log.info("summary", rows=rows)
    return Summary(rows=rows, mean=float(col.mean()), p95=float(col.quantile(0.95)))


@app.get("/versions", response_class=ORJSON)
def versions() -> dict[str, str]:
    return {
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "psycopg2": psycopg2.__version__.split()[0],
        "libpq": str(psycopg2.__libpq_version__),
    }
