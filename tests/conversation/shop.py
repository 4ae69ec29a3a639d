"""A small shop for conversation tests: four categories with words a shopper would use, priced apart, and
shoppers whose clicks stay within one category, trained with the packaged encoder."""

import numpy as np

from app.worker.runner import Worker

CATALOG = {
    "shoes": ["Trail running shoes", "Road running shoes", "Leather dress shoes", "Waterproof hiking shoes",
              "Kids running sneakers", "Leather walking shoes", "Lightweight racing flats", "Winter boots"],
    "fishing": ["Fly fishing lure kit", "Carbon fishing rod", "Tackle box with lures", "Fishing reel",
                "Waders for river fishing", "Fishing hat with neck flap", "Bait bucket", "Fly tying vise"],
    "books": ["A guide to fly fishing", "Running for beginners", "Cookbook of Italian pasta", "Mystery novel",
              "History of the sea", "Trail running atlas", "Poems about rivers", "Book of knots"],
    "kitchen": ["Espresso machine", "Chef knife", "Cast iron pan", "Sugar-free cookie mix", "Pasta maker",
                "Coffee grinder", "Leather apron", "Tea kettle"],
}


def items() -> list[dict]:
    out = []
    for c, (category, titles) in enumerate(CATALOG.items()):
        for n, title in enumerate(titles):
            out.append({"item_id": f"{category}-{n}", "title": title, "category": category,
                        "price": float(15 + 17 * n + 3 * c), "description": f"{title}, from our {category} range."})
    return out


def seed(client) -> None:
    assert client.post("/v1/items/batch", json={"items": items()}).status_code == 200
    rng = np.random.default_rng(0)
    events = []
    for u in range(40):
        category = list(CATALOG)[u % 4]
        for n in rng.choice(8, size=4, replace=False):
            events.append({"user_id": f"u{u}", "item_id": f"{category}-{n}", "type": "click"})
    assert client.post("/v1/interactions", json={"interactions": events}).status_code == 200


def train(client, encoder) -> str:
    """Embed and train (the job embeds what is stale first), then serve the new version."""
    r = client.post("/v1/training/jobs", json={"epochs": 30})
    Worker(client.app.state.sessions, client.app.state.settings, encoder=encoder).run_once()
    job = client.get(f"/v1/jobs/{r.json()['job_id']}").json()
    assert job["status"] == "succeeded", job["error"]
    client.app.state.recommender.refresh()
    client.app.state.recommender.encoder = encoder
    return job["result"]["model_version"]
