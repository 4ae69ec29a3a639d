import pytest

from tests.conftest import READ_KEY

WRITE_ROUTES = [
    ("put", "/v1/items/i1", {"title": "t"}),
    ("post", "/v1/items/batch", {"items": []}),
    ("get", "/v1/items/i1", None),
    ("delete", "/v1/items/i1", None),
    ("put", "/v1/users/u1", {}),
    ("post", "/v1/users/batch", {"users": []}),
    ("get", "/v1/users/u1", None),
    ("delete", "/v1/users/u1", None),
    ("post", "/v1/interactions", {"interactions": []}),
    ("get", "/v1/users/u1/interactions", None),
]


@pytest.mark.parametrize("method,path,body", WRITE_ROUTES)
def test_keys_and_roles(client, method, path, body):
    kwargs = {"json": body} if body is not None else {}
    assert client.request(method, path, headers={"X-API-Key": ""}, **kwargs).status_code == 401
    assert client.request(method, path, headers={"X-API-Key": "wrong"}, **kwargs).status_code == 401
    r = client.request(method, path, headers={"X-API-Key": READ_KEY}, **kwargs)
    assert r.status_code == 403 and "write" in r.json()["detail"]


def test_missing_key_wins_over_bad_body(client):
    r = client.put("/v1/items/i1", json={"price": "x"}, headers={"X-API-Key": ""})
    assert r.status_code == 401


def test_operational_routes_need_no_key(client):
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert client.get(path, headers={"X-API-Key": ""}).status_code == 200, path
