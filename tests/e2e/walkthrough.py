"""The README's walk-through store (three items, two shoppers, their events) and one trained version, posted
over HTTP to a live server: what the OpenAPI e2e tests run against, as a new user's first server holds it."""

import time

import httpx

ITEMS = [
    {"item_id": "sku-1", "title": "Trail running shoes", "category": "shoes", "price": 89.9,
     "attributes": {"brand": "Stride"}},
    {"item_id": "sku-2", "title": "Espresso machine", "category": "kitchen", "price": 249},
    {"item_id": "sku-3", "title": "Waterproof trail shoes", "category": "shoes", "price": 119},
]
EVENTS = [
    {"user_id": "u-42", "item_id": "sku-1", "type": "rating", "value": 5, "text": "Great grip", "event_id": "e-1"},
    {"user_id": "u-43", "item_id": "sku-2", "type": "purchase", "event_id": "e-2", "context": {"device": "mobile"}},
]


def wait_for_job(http: httpx.Client, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while (job := http.get(f"/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.25)
    return job


def load_and_train(http: httpx.Client) -> dict:
    """The walk-through's store and one trained version; returns the succeeded training job."""
    assert http.post("/v1/items/batch", json={"items": ITEMS}).status_code == 200
    assert http.put("/v1/users/u-42", json={"profile_text": "Runs trails at weekends"}).status_code == 200
    assert http.post("/v1/interactions", json={"interactions": EVENTS}).status_code == 200
    job = wait_for_job(http, http.post("/v1/training/jobs", json={}).json()["job_id"])
    assert job["status"] == "succeeded", job
    return job
