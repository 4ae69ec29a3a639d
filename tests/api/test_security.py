"""Key rotation without restart, the per-key rate limit, security headers and CORS, on the real app."""

import logging

import pytest
from fastapi.testclient import TestClient

from app.core import security
from app.core.security import KeyStore, RateLimiter, Role
from app.main import create_app
from tests.conftest import READ_KEY, WRITE_KEY, open_client


def rewrite(client, path, text: str) -> None:
    """Replace the key file; the next request re-reads it (the service looks at most once a second)."""
    path.write_text(text)
    client.app.state.keys.check_seconds = 0


def status(client, key: str, method: str = "put", path: str = "/v1/items/i1") -> int:
    body = {"json": {"title": "t"}} if method == "put" else {}
    return client.request(method, path, headers={"X-API-Key": key}, **body).status_code


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "secrets" / "api_keys"
    path.parent.mkdir()
    path.write_text("# rotated monthly, by the deploy job\nfirst-key:write\n")
    return path


def test_key_file_rotates_without_restart(settings, key_file):
    with open_client(settings.model_copy(update={"api_keys_file": key_file})) as client:
        assert status(client, "first-key") == 200
        assert status(client, WRITE_KEY) == 200  # SEMREC_API_KEYS still holds, beside the file
        rewrite(client, key_file, "second-key-rotated:write\n")
        assert status(client, "first-key") == 401
        assert status(client, "second-key-rotated") == 200
        assert status(client, WRITE_KEY) == 200


def test_generated_key_file_is_reread(settings):
    with open_client(settings.model_copy(update={"api_keys": ""})) as client:
        path = settings.data_dir / "api_keys"
        generated = path.read_text().split(":")[0]
        assert status(client, generated) == 200
        rewrite(client, path, "new-read-key:read\n")
        assert status(client, generated) == 401
        assert status(client, "new-read-key", "get", "/v1/users/u1/recommendations") == 200
        assert status(client, "new-read-key") == 403


@pytest.mark.parametrize("content", ["new-secret-key-without-role\n", "", None])
def test_a_bad_key_file_keeps_the_keys_and_logs_no_key(settings, key_file, caplog, content):
    with open_client(settings.model_copy(update={"api_keys_file": key_file})) as client:
        caplog.set_level(logging.INFO)
        if content is None:
            key_file.unlink()
            client.app.state.keys.check_seconds = 0
        else:
            rewrite(client, key_file, content)
        assert [status(client, "first-key") for _ in range(3)] == [200, 200, 200]
        errors = [r for r in caplog.records if r.name == "semrec.security" and r.levelno == logging.ERROR]
        assert len(errors) == 1 and "keeping the keys in force" in errors[0].getMessage()  # once per version
        assert "first-key" not in caplog.text and "new-secret-key" not in caplog.text
        rewrite(client, key_file, "repaired-key:write\n")
        assert status(client, "repaired-key") == 200 and status(client, "first-key") == 401


def test_a_bad_key_file_stops_the_start(settings, key_file):
    key_file.write_text("first-key:admin\n")
    app = create_app(settings.model_copy(update={"api_keys_file": key_file}))
    with pytest.raises(ValueError, match="entry 1 must be key:read or key:write") as raised:
        with TestClient(app):
            pass
    assert "first-key" not in str(raised.value)


def test_key_file_is_looked_at_once_a_second(key_file, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(security, "monotonic", lambda: now[0])
    store = KeyStore({}, key_file)
    key_file.write_text("second-key-rotated:read\n")
    now[0] += 0.5
    assert store.role_of("first-key") is Role.write and store.role_of("second-key-rotated") is None
    now[0] += 0.5
    assert store.role_of("first-key") is None and store.role_of("second-key-rotated") is Role.read


def test_rate_limit_per_key(settings):
    # A rate so low that nothing refills during the test: exactly the burst goes through.
    limited = settings.model_copy(update={"rate_limit_per_second": 0.001, "rate_limit_burst": 3})
    with open_client(limited) as client:
        assert [status(client, WRITE_KEY) for _ in range(3)] == [200, 200, 200]
        r = client.put("/v1/items/i1", json={"title": "t"})
        assert r.status_code == 429 and "rate limit" in r.json()["detail"]
        assert r.headers["Retry-After"].isdigit() and int(r.headers["Retry-After"]) >= 1
        assert status(client, READ_KEY, "get", "/v1/users/u1/recommendations") == 200  # a bucket of its own
        assert status(client, "unknown-key") == 401  # unknown keys are refused, not counted
        for path in ("/healthz", "/readyz", "/metrics"):
            assert client.get(path).status_code == 200, path


def test_token_bucket_refills_at_the_rate(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(security, "monotonic", lambda: now[0])
    limiter = RateLimiter(per_second=2, burst=2)
    assert [limiter.wait_seconds("k"), limiter.wait_seconds("k")] == [0, 0]
    assert limiter.wait_seconds("k") == pytest.approx(0.5)
    assert limiter.wait_seconds("other") == 0
    now[0] += 0.5
    assert limiter.wait_seconds("k") == 0 and limiter.wait_seconds("k") > 0
    now[0] += 60  # an idle key gets its burst back, never more
    assert [limiter.wait_seconds("k") for _ in range(3)] == [0, 0, pytest.approx(0.5)]
    assert RateLimiter(per_second=2.5, burst=0).burst == 3  # default burst: one second's worth


def test_security_headers_on_every_response(client):
    responses = {
        "/healthz": client.get("/healthz"),
        "/v1 200": client.put("/v1/items/i1", json={"title": "t"}),
        "/v1 404": client.get("/v1/items/missing"),
        "/v1 401": client.get("/v1/items/i1", headers={"X-API-Key": "wrong"}),
        "/v1 422": client.put("/v1/items/i1", json={"price": "x"}),
        "/docs": client.get("/docs"),
    }
    for name, r in responses.items():
        assert r.headers["X-Content-Type-Options"] == "nosniff", name
        assert r.headers["X-Frame-Options"] == "DENY", name
        assert r.headers["Referrer-Policy"] == "no-referrer", name
        assert (r.headers.get("Cache-Control") == "no-store") == name.startswith("/v1"), name
    # nosniff keeps the offline docs working: their assets are served with their real types.
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").headers["content-type"].startswith(
        "text/javascript")
    assert "swagger-ui" in responses["/docs"].text


PREFLIGHT = {"Origin": "https://shop.example", "Access-Control-Request-Method": "PUT",
             "Access-Control-Request-Headers": "x-api-key, content-type"}


def test_no_cors_unless_configured(client):
    r = client.options("/v1/items/i1", headers=PREFLIGHT)
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    r = client.get("/v1/items/i1", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_for_configured_origins(settings):
    with open_client(settings.model_copy(update={"cors_origins": "https://shop.example, https://admin.example"})) as c:
        r = c.options("/v1/items/i1", headers=PREFLIGHT)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://shop.example"
        assert "x-api-key" in r.headers["access-control-allow-headers"].lower()
        assert r.headers["X-Frame-Options"] == "DENY"
        r = c.options("/v1/items/i1", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        r = c.put("/v1/items/i1", json={"title": "t"}, headers={"Origin": "https://admin.example"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://admin.example"
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()


def test_framework_answers_get_the_headers_too(settings):
    """The body limit's 413 is sent outside the routes; it still carries the headers and a request id."""
    with open_client(settings.model_copy(update={"max_body_bytes": 1024})) as client:
        r = client.post("/v1/items/batch", content=b"x" * 5000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["detail"]
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Request-ID"]
