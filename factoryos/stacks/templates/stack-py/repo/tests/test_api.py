from pathlib import Path

from fastapi.testclient import TestClient

from app import NAME
from app.main import create_app
from app.store import MemoryStore


def client(web_dir: Path = Path("/nonexistent")) -> TestClient:
    return TestClient(create_app(MemoryStore(), web_dir=web_dir))


def test_health_names_the_app() -> None:
    assert client().get("/api/health").json() == {"status": "ok", "name": NAME, "store": "memory"}


def test_add_list_and_toggle() -> None:
    api = client()
    created = api.post("/api/tasks", json={"text": "  ship   it "})
    assert created.status_code == 201
    assert created.json() == {"id": 1, "text": "ship it", "done": False}
    assert api.post("/api/tasks/1/toggle").json()["done"] is True
    assert [t["text"] for t in api.get("/api/tasks").json()] == ["ship it"]


def test_bad_input_is_refused() -> None:
    api = client()
    assert api.post("/api/tasks", json={"text": "   "}).status_code == 422
    assert api.post("/api/tasks", json={}).status_code == 422
    assert api.post("/api/tasks/99/toggle").status_code == 404


def test_serves_the_web_export(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>hello</h1>")
    assert "<h1>hello</h1>" in client(tmp_path).get("/").text
