"""The evaluation through the service: the metric over returned ids is the protocol's own, and the --smoke run
of scripts/evaluate_service.py end to end against a real spawned server on SQLite (P2 and P3)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.encoder.texts import item_text
from app.evaluation import datasets
from app.evaluation.protocols import Indexed, p2_temporal, p3_cold_items, ranking_metrics
from app.evaluation.service_run import item_records, service_metrics, smoke_slice, training_events

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "ml-100k").is_dir(),
                                reason="shared evaluation data not beside the checkout")
SMOKE_USERS = 20


@pytest.fixture(scope="module")
def ml_slice():
    ds = smoke_slice(datasets.load("ml-100k", DATA), SMOKE_USERS)
    return ds, Indexed(ds)


@needs_data
@pytest.mark.parametrize("protocol", ["P2", "P3"])
def test_lists_scored_as_the_protocol_scores_a_matrix(ml_slice, protocol):
    ds, ix = ml_slice
    split, ks = (p2_temporal(ix), (10, 20)) if protocol == "P2" else (p3_cold_items(ix), (10,))
    scores = np.random.default_rng(3).random((len(split.eval_users), len(ix.item_ids)))
    candidates = split.candidates if split.candidates is not None else np.arange(len(ix.item_ids))
    lists = {}
    for row, user in enumerate(split.eval_users):
        s = scores[row].copy()
        if split.exclude_train:
            s[ix.i[split.train & (ix.u == user)]] = -np.inf
        order = candidates[np.argsort(-s[candidates])]
        lists[int(user)] = [int(i) for i in order if np.isfinite(s[i])][:20]
    assert service_metrics(lists, split, ix, ks) == pytest.approx(ranking_metrics(scores, split.eval_users, split,
                                                                                  ix, ks))
    # An empty or short answer is not topped up with items the service never named.
    assert all(v == 0 for v in service_metrics({}, split, ix, ks).values())


@needs_data
def test_posted_records_hold_the_items_text_and_only_training_events(ml_slice):
    ds, ix = ml_slice
    items = item_records(ds, ix)
    assert len(items) == len(ix.item_ids) and items[0]["title"] == "Toy Story (1995)"
    # What the encoder composes from a posted item is the library's text, word for word.
    assert [item_text(i["title"], i.get("category"), i.get("description"), i.get("attributes")) for i in items] \
        == ix.item_texts
    split = p2_temporal(ix)
    events = training_events(ds, split, {})
    assert len(events) == int(split.train.sum()) and len({e["event_id"] for e in events}) == len(events)
    test_pairs = {(str(ds.users[e]), str(ds.items[e])) for e in np.flatnonzero(~split.train)}
    assert not test_pairs & {(e["user_id"], e["item_id"]) for e in events}
    assert all(e["type"] == "rating" and 1 <= e["value"] <= 5 and e["timestamp"].endswith("+00:00") for e in events)


@pytest.mark.skipif(not (DATA / "amazon2018-giftcards").is_dir(), reason="shared data not beside the checkout")
def test_the_store_composes_the_texts_the_library_reads(client):
    """Gift Cards through the API (catalog, P2's training events with their reviews): the texts the encoder
    would read from the store are ``Indexed.texts`` of the split, item for item and user for user."""
    from app.encoder.pipeline import ReviewTexts, owner_texts
    from app.evaluation.service_run import review_texts

    ds = datasets.load("amazon2018-giftcards", DATA)
    ix = Indexed(ds)
    split = p2_temporal(ix)
    assert client.post("/v1/items/batch", json={"items": item_records(ds, ix)}).status_code == 200
    events = training_events(ds, split, review_texts(ds))
    assert sum("text" in e for e in events) > len(events) // 2
    assert client.post("/v1/interactions", json={"interactions": events}).status_code == 200
    settings = client.app.state.settings
    item_texts, user_texts = ix.texts(split.train, settings.item_review_texts, settings.user_review_texts)
    with client.app.state.sessions() as session:
        stored = {(t.kind, t.owner_id): t.text for kind in ("item", "user")
                  for t in owner_texts(session, kind, ReviewTexts.of(settings))}
    assert {i: stored.get(("item", i)) for i in ix.item_ids} == dict(zip(ix.item_ids, item_texts, strict=True))
    assert {u: stored.get(("user", u)) for u in ix.user_ids} == {
        u: t or None for u, t in zip(ix.user_ids, user_texts, strict=True)}
    assert any("Review: " in t for t in item_texts)


def _random_recall(split, ix, k: int) -> float:
    """What a random ranking's Recall@k is worth in expectation: k / the candidates each user has."""
    n_items = len(ix.item_ids)
    out = []
    for user in split.eval_users:
        if split.candidates is not None:
            n = len(split.candidates)
        else:
            n = n_items - len(set(ix.i[split.train & (ix.u == user)].tolist()))
        out.append(min(k, n) / n)
    return float(np.mean(out))


@needs_data
def test_smoke_run_through_a_spawned_service(tmp_path, ml_slice):
    out = tmp_path / "svc"
    run = subprocess.run([sys.executable, "-m", "scripts.evaluate_service", "--smoke", "--smoke-users",
                          str(SMOKE_USERS),
                          "--datasets", "ml-100k", "--protocols", "P2,P3", "--data-root", str(DATA),
                          "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.with_suffix(".json").read_text())
    results = report["results"]["ml-100k"]
    _, ix = ml_slice
    for protocol, split, per_user in (("P2", p2_temporal(ix), 2), ("P3", p3_cold_items(ix), 1)):
        r = results[protocol]
        assert "error" not in r, r["error"]
        assert r["job"]["status"] == "succeeded" and r["model_version"]
        a = r["answers"]
        assert a["requests"] == per_user * len(split.eval_users) == a["statuses"]["200"]
        assert a["non_200"] == 0 and a["empty_lists"] == 0 and a["non_finite_scores"] == 0
        assert a["unknown_ids_returned"] == 0 and a["seen_items_returned"] == 0
        # Consistency: asked right after the job reported succeeded, every answer is the job's version.
        assert a["model_version_mismatch"] == 0, a["versions_seen"]
        metrics = {k: v for k, v in r.items() if "@" in k}
        assert set(metrics) == ({"recall@10", "ndcg@10", "recall@20", "ndcg@20"} if protocol == "P2"
                                else {"recall@10", "ndcg@10"})
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in metrics.values())
        assert r["recall@10"] > 0
        if protocol == "P2":  # P3's 20 users over ~40 cold items are too few for a margin over random
            assert r["recall@10"] > _random_recall(split, ix, 10), r["recall@10"]
        assert all(r["phases"][p] > 0 for p in ("ingest_s", "train_s", "query_s"))
    md = out.with_suffix(".md").read_text()
    assert "| ml-100k | P2 |" in md and "model_version ≠ job's" in md
