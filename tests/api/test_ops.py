import re

from sqlalchemy import text

from app.store import migrate


def test_readyz_reports_store_schema_and_model(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"store": "ok", "schema": "ok", "model": "none trained yet"}


def test_readyz_fails_when_schema_is_behind(client):
    with client.app.state.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    try:
        r = client.get("/readyz")
        assert r.status_code == 503 and "expected" in r.json()["checks"]["schema"]
    finally:
        with client.app.state.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": migrate.head_revision()})


def test_metrics_count_requests_per_route_template(client):
    for n in range(3):
        client.put(f"/v1/items/i{n}", json={"title": "t"})
    client.get("/v1/items/missing")
    body = client.get("/metrics").text
    count = re.search(
        r'semrec_http_requests_total\{method="PUT",route="/v1/items/\{item_id\}",status="200"\} (\S+)', body)
    assert count and float(count.group(1)) == 3
    assert 'route="/v1/items/{item_id}",status="404"' in body
    assert 'semrec_http_request_duration_seconds_bucket{le="0.005",method="PUT",route="/v1/items/{item_id}"}' in body


def test_docs_are_served_offline(client):
    page = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/") for a in assets), assets  # nothing from a CDN
    for asset in assets:
        if asset.startswith("/static"):
            assert client.get(asset).status_code == 200, asset


def test_every_route_documents_an_example_body(client):
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if "requestBody" not in op:
                continue
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            assert spec["components"]["schemas"][ref].get("examples"), (method, path)


def test_body_too_large_is_413(settings, tmp_path):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import WRITE_KEY

    app = create_app(settings.model_copy(update={"max_body_bytes": 4096}))
    with TestClient(app, headers={"X-API-Key": WRITE_KEY}) as c:
        big = {"items": [{"item_id": f"i{n}", "title": "x" * 100} for n in range(100)]}
        assert c.post("/v1/items/batch", json=big).status_code == 413

        def chunks():
            yield b'{"items": ['
            for _ in range(100):
                yield b'{"item_id": "i", "title": "' + b"x" * 100 + b'"},'
            yield b"]}"

        r = c.post("/v1/items/batch", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
