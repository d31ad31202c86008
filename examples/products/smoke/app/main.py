"""The smoke service's HTTP API.

``GET /`` names the service, ``GET /items/{id}`` serves a small catalogue, and
``GET /health`` exists only while the ``health`` feature is switched on in
``features.txt`` (the change the factory's pipeline makes).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException

from app import VERSION
from app.features import FEATURES_FILE, enabled

ITEMS = {1: {"id": 1, "name": "widget"}, 2: {"id": 2, "name": "gadget"}}


def create_app(features_file: Path = FEATURES_FILE) -> FastAPI:
    api = FastAPI(title="smoke", version=VERSION)
    features = enabled(features_file)

    @api.get("/")
    def root() -> dict[str, str]:
        return {"service": "smoke", "version": VERSION}

    @api.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, object]:
        if item_id not in ITEMS:
            raise HTTPException(status_code=404, detail=f"item {item_id} not found")
        return ITEMS[item_id]

    if "health" in features:

        @api.get("/health")
        def health() -> dict[str, str]:
            return {"status": "ok"}

    return api


app = create_app()
