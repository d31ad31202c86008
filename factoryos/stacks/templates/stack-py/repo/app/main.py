"""The HTTP API (``/api/...``) and, when built, the Next.js front (``web/out``).

    uvicorn app.main:app --port 8080

``create_app`` takes the store, so tests pass a ``MemoryStore``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from app import NAME
from app.store import TaskNotFoundError, TaskStore, open_store
from app.tasks import InvalidTaskError, Task, normalize_text

#: The static export of web/ (``next build``), served at / when present.
WEB_DIR = Path(os.environ.get("WEB_DIR", Path(__file__).resolve().parent.parent / "web" / "out"))


class NewTask(BaseModel):
    text: str


def create_app(store: TaskStore | None = None, web_dir: Path = WEB_DIR) -> FastAPI:
    """The application, over ``store`` (default: from DATABASE_URL)."""
    tasks = store if store is not None else open_store()
    app = FastAPI(title=NAME)

    @app.get("/api/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "name": NAME, "store": tasks.kind}

    @app.get("/api/tasks")
    def list_tasks() -> list[Task]:
        return tasks.list()

    @app.post("/api/tasks", status_code=201)
    def add_task(body: NewTask) -> Task:
        try:
            return tasks.add(normalize_text(body.text))
        except InvalidTaskError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc

    @app.post("/api/tasks/{task_id}/toggle")
    def toggle_task(task_id: int) -> Task:
        try:
            return tasks.toggle(task_id)
        except TaskNotFoundError:
            raise HTTPException(status_code=404, detail=f"no task {task_id}") from None

    if web_dir.is_dir():
        app.mount("/", StaticFiles(directory=web_dir, html=True), name="web")
    return app


app = create_app()
