"""A small FastAPI service."""

from fastapi import FastAPI
from pydantic import BaseModel

from common import service_info

app = FastAPI(title="api")


class Item(BaseModel):
    name: str
    quantity: int = 1


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", **service_info("api")}


@app.post("/items")
def create_item(item: Item) -> Item:
    return item
