"""Run in the development image: docker run --rm -v "$PWD/tests:/app/tests:ro" notes:dev
python -m pytest -q -p no:cacheprovider /app/tests"""

from starlette.testclient import TestClient

from notes.main import app

client = TestClient(app)


def test_health():
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_create_and_fetch():
    r = client.post("/notes", json={"text": "buy milk"})
    assert r.status_code == 201
    note_id = r.json()["id"]
    assert client.get(f"/notes/{note_id}").json() == {"id": note_id, "text": "buy milk"}
    assert {"id": note_id, "text": "buy milk"} in client.get("/notes").json()


def test_empty_note_is_refused():
    assert client.post("/notes", json={"text": ""}).status_code == 422
    assert client.get("/notes/999").status_code == 404
