"""A body over SEMREC_MAX_BODY_BYTES gets a JSON 413 and stores nothing, whether it declares its length
(Content-Length) or streams it (chunked transfer, no Content-Length)."""

import json

import pytest

from tests.conftest import open_client
from tests.utils import item

LIMIT = 1024


@pytest.fixture
def small_limit_client(settings):
    with open_client(settings.model_copy(update={"max_body_bytes": LIMIT})) as c:
        yield c


def oversize_batch() -> bytes:
    body = json.dumps({"items": [item(n, description="x" * 100) for n in range(20)]}).encode()
    assert len(body) > LIMIT
    return body


def chunks(body: bytes, size: int = 256):
    """A generator body: the client sends it chunked, without a Content-Length."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


def assert_json_413(response) -> None:
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/json")
    assert str(LIMIT) in response.json()["detail"]


def test_declared_length_over_the_limit(small_limit_client):
    response = small_limit_client.post("/v1/items/batch", content=oversize_batch(),
                                       headers={"Content-Type": "application/json"})
    assert_json_413(response)
    assert small_limit_client.get("/v1/items/sku-0").status_code == 404


def test_chunked_body_over_the_limit(small_limit_client):
    request = small_limit_client.build_request("POST", "/v1/items/batch", content=chunks(oversize_batch()),
                                               headers={"Content-Type": "application/json"})
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_json_413(small_limit_client.send(request))
    assert small_limit_client.get("/v1/items/sku-0").status_code == 404


@pytest.mark.parametrize("method, path", [("PUT", "/v1/items/sku-1"), ("POST", "/v1/interactions"),
                                          ("GET", "/v1/items/sku-1"), ("POST", "/v1/no-such-route")])
def test_declared_length_over_the_limit_on_any_route(small_limit_client, method, path):
    response = small_limit_client.request(method, path, content=b" " * (LIMIT + 1),
                                          headers={"Content-Type": "application/json"})
    assert_json_413(response)


def test_a_body_at_the_limit_is_read(small_limit_client):
    body = json.dumps({"items": [item(1)]}).encode()
    body += b" " * (LIMIT - len(body))
    response = small_limit_client.post("/v1/items/batch", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"upserted": 1}
