"""Request ids, JSON access logs and the scrape-time metrics (jobs, served model, encoder), on the real app."""

import io
import json
import logging
import re
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.core.logs import JsonFormatter
from app.main import create_app
from app.store.db import make_sessionmaker
from app.worker.runner import Worker
from tests.conftest import WRITE_KEY, open_client
from tests.recommender.test_routes import seed, train


@pytest.fixture
def log_output():
    """What the service's loggers write, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("semrec")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is one JSON object


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"X-Request-ID": "shop-7.a:b_c"}).headers["X-Request-ID"] == "shop-7.a:b_c"
    for incoming in (None, "has spaces", "x" * 129, "<script>", ""):
        headers = {"X-Request-ID": incoming} if incoming is not None else {}
        r = client.get("/v1/items/missing", headers=headers)
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"]), incoming
    assert client.get("/healthz").headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]


def test_one_json_access_line_per_request_without_keys(client, log_output):
    client.put("/v1/items/sku-secret-id?token=query-secret", json={"title": "t"}, headers={"X-Request-ID": "req-1"})
    client.get("/v1/items/sku-1", headers={"X-API-Key": "wrong-secret-key", "X-Request-ID": "req-2"})
    client.get("/healthz")
    access = [line for line in lines(log_output) if line["logger"] == "semrec.access"]
    assert len(access) == 3
    first = access[0]
    assert {k: first[k] for k in ("level", "method", "route", "status", "request_id")} == {
        "level": "INFO", "method": "PUT", "route": "/v1/items/{item_id}", "status": 200, "request_id": "req-1"}
    assert isinstance(first["duration_ms"], float) and first["time"].endswith("+00:00") and first["message"]
    assert (access[1]["status"], access[1]["request_id"]) == (401, "req-2")
    assert access[2]["route"] == "/healthz" and re.fullmatch(r"[0-9a-f]{32}", access[2]["request_id"])
    text = log_output.getvalue()
    for secret in (WRITE_KEY, "wrong-secret-key", "query-secret", "sku-secret-id"):
        assert secret not in text


def test_lines_logged_while_serving_carry_the_request_id(settings, tmp_path, log_output):
    key_file = tmp_path / "keys"
    key_file.write_text("first-key:write\n")
    with open_client(settings.model_copy(update={"api_keys_file": key_file})) as client:
        key_file.write_text("broken-key-value\n")
        client.app.state.keys.check_seconds = 0
        client.get("/v1/items/i1", headers={"X-Request-ID": "req-reload"})  # the reload runs in this request
    error = next(line for line in lines(log_output) if line["level"] == "ERROR")
    assert error["logger"] == "semrec.security" and error["request_id"] == "req-reload"
    assert "broken-key-value" not in log_output.getvalue()


def test_an_unhandled_error_is_logged_with_its_request_id(settings, log_output):
    app = create_app(settings)

    @app.get("/v1/boom")
    def boom():
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/v1/boom", headers={"X-Request-ID": "req-boom"})
    assert r.status_code == 500 and r.json() == {"detail": "internal error", "errors": []}
    assert r.headers["X-Request-ID"] == "req-boom" and r.headers["X-Content-Type-Options"] == "nosniff"
    logged = [line for line in lines(log_output) if line.get("request_id") == "req-boom"]
    assert [(line["level"], line.get("status")) for line in logged] == [("ERROR", None), ("INFO", 500)]
    assert "RuntimeError: boom" in logged[0]["exception"]


def test_json_formatter_keeps_exceptions_on_one_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("semrec", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info())
    out = JsonFormatter().format(record)
    assert "\n" not in out
    line = json.loads(out)
    assert line["message"] == "failed x" and "RuntimeError: boom" in line["exception"]


def sample(body: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus text format, or None if absent."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    match = re.search(rf"^{re.escape(name)}{re.escape('{' + label_text + '}' if labels else '')} (\S+)$", body, re.M)
    return float(match.group(1)) if match else None


@pytest.fixture
def manual_client(settings):
    """Jobs run here by hand (a real Worker), as a separate worker process would."""
    with open_client(settings.model_copy(update={"embedded_worker": False, "refresh_seconds": 3600})) as c:
        yield c


def test_metrics_expose_jobs_model_and_encoder(manual_client, packaged_encoder):
    client = manual_client
    client.app.state.recommender.refresh()  # serving follows the cleaned store: no model yet
    body = client.get("/metrics").text
    assert sample(body, "semrec_index_items") == 0 and "semrec_active_model_info{" not in body
    seed(client)
    version = train(client, packaged_encoder)  # embeds the 60 item texts first, then trains and activates
    failing = client.post("/v1/training/jobs", json={"objective": "rating", "epochs": 2})  # clicks only
    assert Worker(client.app.state.sessions, client.app.state.settings, encoder=packaged_encoder).run_once()
    assert client.get(f"/v1/jobs/{failing.json()['job_id']}").json()["status"] == "failed"
    client.post("/v1/embeddings/jobs", json={"target": "all"})  # left queued

    body = client.get("/metrics").text
    assert sample(body, "semrec_jobs", kind="training", status="succeeded") == 1
    assert sample(body, "semrec_jobs", kind="training", status="failed") == 1
    assert sample(body, "semrec_jobs", kind="embedding", status="queued") == 1
    assert sample(body, "semrec_job_duration_seconds_count", kind="training", status="succeeded") == 1
    assert sample(body, "semrec_job_duration_seconds_sum", kind="training", status="succeeded") > 0
    assert sample(body, "semrec_job_duration_seconds_count", kind="training", status="failed") == 1
    assert sample(body, "semrec_active_model_info", version=version) == 1
    model = client.get("/v1/models").json()["models"][0]
    assert sample(body, "semrec_index_items") == model["metrics"]["items"] > 0
    assert sample(body, "semrec_encoder_texts_per_second") > 0


def test_a_scrape_survives_an_unreachable_store(client, tmp_path, log_output):
    client.get("/healthz")
    state = client.app.state
    reachable = state.sessions
    state.sessions = make_sessionmaker(create_engine(f"sqlite:///{tmp_path}/no/such/dir/semrec.db"))
    try:
        r = client.get("/metrics")
    finally:
        state.sessions = reachable
    assert r.status_code == 200
    assert "semrec_http_requests_total{" in r.text and sample(r.text, "semrec_index_items") is not None
    assert "semrec_jobs{" not in r.text
    assert any("job figures left out" in line["message"] for line in lines(log_output))
