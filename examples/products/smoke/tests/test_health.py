"""Acceptance test of the pipeline's change: the health endpoint is switched on."""

from fastapi.testclient import TestClient

from app.main import create_app


def test_health_endpoint_reports_ok() -> None:
    client = TestClient(create_app())
    response = client.get("/health")
    assert response.status_code == 200, "switch on the health feature in features.txt"
    assert response.json() == {"status": "ok"}
