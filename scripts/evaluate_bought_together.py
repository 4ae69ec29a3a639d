"""Bought together, measured through the service (an in-process app on a fresh SQLite store).

- the planted basket shop (app.evaluation.baskets): how many planted partners are in their item's top 10;
- Amazon Gift Cards, a temporal holdout: events before the cutoff (80% of them by time) are stored; for each
  later event whose shopper bought another item within SEMREC_BASKET_HOURS before it, is the later item in the
  earlier one's top 10? Against the most popular items and against `/v1/items/{id}/similar` of a model trained
  on the stored events.

    python -m scripts.evaluate_bought_together [--data ../shared/data] [--out docs/evaluation-bought-together.md]
"""

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.evaluation.baskets import basket_shop
from app.evaluation.datasets import load_amazon
from app.main import create_app
from scripts.lib.service import train

KEY = "eval-write-key"
DAY = 86_400


def _service(folder: str) -> TestClient:
    settings = Settings(database_url=f"sqlite:///{folder}/semrec.db", data_dir=Path(folder), api_keys=f"{KEY}:write",
                        embedded_worker=True, _env_file=None)
    return TestClient(create_app(settings), headers={"X-API-Key": KEY})


def _store(http: TestClient, ds, mask: np.ndarray) -> None:
    http.post("/v1/items/batch", json={"items": list(ds.item_records.values())}).raise_for_status()
    events = [{"user_id": str(u), "item_id": str(i), "type": "rating", "value": float(r),
               "timestamp": datetime.fromtimestamp(int(t), UTC).isoformat()}
              for u, i, r, t in zip(ds.users[mask], ds.items[mask], ds.ratings[mask], ds.timestamps[mask], strict=True)]
    for start in range(0, len(events), 5000):
        http.post("/v1/interactions", json={"interactions": events[start:start + 5000]}).raise_for_status()


def _top(http: TestClient, route: str, k: int = 10) -> list[str]:
    r = http.get(route, params={"k": k})
    r.raise_for_status()
    return [i["item_id"] for i in r.json()["items"]]


def planted(seed: int) -> dict:
    ds, pairs = basket_shop(seed=seed)
    with tempfile.TemporaryDirectory() as folder, _service(folder) as http:
        _store(http, ds, np.ones(len(ds), bool))
        found = sum(b in _top(http, f"/v1/items/{a}/bought-together") for a, b in pairs)
        popular = _top(http, "/v1/users/nobody/recommendations", 11)
        by_popularity = sum(b in [i for i in popular if i != a][:10] for a, b in pairs)
        speed = _speed(http, sorted(ds.item_records))
    return {"events": len(ds), "planted pairs": len(pairs), "bought together": found, "popular": by_popularity,
            "ms in process (p50, p99)": speed}


def _speed(http: TestClient, items: list[str], n: int = 500) -> dict:
    """p50 and p99 of each route through the in-process app (the same harness for all three): the plain list
    (a visitor's), bought together of random items, trending."""
    rng = np.random.default_rng(0)
    routes = {"plain list": lambda: "/v1/users/nobody/recommendations",
              "bought together": lambda: f"/v1/items/{items[rng.integers(len(items))]}/bought-together",
              "trending": lambda: "/v1/trending"}
    out = {}
    for name, route in routes.items():
        times = []
        for _ in range(n):
            started = time.perf_counter()
            http.get(route(), params={"k": 10}).raise_for_status()
            times.append(1000 * (time.perf_counter() - started))
        out[name] = [round(float(np.percentile(times, 50)), 2), round(float(np.percentile(times, 99)), 2)]
    return out


def gift_cards(data: Path) -> dict:
    ds = load_amazon(data / "amazon2018-giftcards", "Gift_Cards")
    order = np.lexsort((np.arange(len(ds)), ds.timestamps))
    cutoff = ds.timestamps[order[int(0.8 * len(ds))]]
    stored = ds.timestamps < cutoff
    cases = []  # (earlier item, later item) of the held-out events with an earlier item in their basket
    for n in np.flatnonzero(~stored):
        same = (ds.users == ds.users[n]) & (ds.timestamps <= ds.timestamps[n]) & \
            (ds.timestamps >= ds.timestamps[n] - DAY) & (ds.items != ds.items[n])
        earlier = [m for m in np.flatnonzero(same) if (ds.timestamps[m], m) < (ds.timestamps[n], n)]
        cases += [(str(ds.items[m]), str(ds.items[n])) for m in earlier]
    with tempfile.TemporaryDirectory() as folder, _service(folder) as http:
        _store(http, ds, stored)
        started = time.perf_counter()
        job = train(http)
        trained_s = time.perf_counter() - started
        http.app.state.recommender.refresh()
        popular = _top(http, "/v1/users/nobody/recommendations", 11)
        hits = {"bought together": 0, "similar": 0, "popular": 0}
        strategies = {}
        for a, b in cases:
            answer = http.get(f"/v1/items/{a}/bought-together", params={"k": 10}).json()
            strategies[answer["strategy"]] = strategies.get(answer["strategy"], 0) + 1
            hits["bought together"] += b in [i["item_id"] for i in answer["items"]]
            hits["similar"] += b in _top(http, f"/v1/items/{a}/similar")
            hits["popular"] += b in [i for i in popular if i != a][:10]
    return {"events stored": int(stored.sum()), "held-out cases": len(cases), "training job": job["status"],
            "train s": round(trained_s, 1), "hit@10": {m: round(h / max(1, len(cases)), 3) for m, h in hits.items()},
            "hits": hits, "bought-together strategies": strategies}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("docs/evaluation-bought-together.json"))
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args()
    figures = {"planted": [planted(seed) for seed in range(args.seeds)], "gift cards": gift_cards(args.data)}
    print(json.dumps(figures, indent=2))
    args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
