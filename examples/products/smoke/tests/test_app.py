"""The service's base endpoints."""

from fastapi.testclient import TestClient

from app import VERSION
from app.main import create_app


def test_root_names_the_service() -> None:
    client = TestClient(create_app())
    assert client.get("/").json() == {"service": "smoke", "version": VERSION}


def test_items_are_served_and_unknown_ones_are_404() -> None:
    client = TestClient(create_app())
    assert client.get("/items/1").json() == {"id": 1, "name": "widget"}
    assert client.get("/items/99").status_code == 404


def test_health_is_absent_while_the_feature_is_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    features = tmp_path / "features.txt"
    features.write_text("# nothing on\n")
    assert TestClient(create_app(features)).get("/health").status_code == 404
