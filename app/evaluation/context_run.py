"""The Context protocol through the service (shared PROTOCOLS.md, "Context"), and how coherent the service's
segments are, in one run on one fresh store.

P2 twice on the same trained version: each test user's ``GET /v1/users/{id}/recommendations?k=20`` without
context and with the context of their first test event (``at`` = its time; its device and location where the
data has them). Beside P2's figures, recall@10 of that first test event's item alone: the one event the context
describes. Segments: for each segment the service lists, the share of its members' training events in its
top category (the one it has most more of, ``app.segments.distinctive``) against that category's share of all
training events; beside it the same figure for random segments of the same sizes (``default_rng(0)``).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from app.evaluation.datasets import Dataset, item_categories
from app.evaluation.planted import DEVICES
from app.evaluation.protocols import Indexed, RankingSplit, p2_temporal
from app.evaluation.service_run import Service, prepare, service_metrics
from app.segments import distinctive

KS = (10, 20)


def first_test_events(ds: Dataset, ix: Indexed, split: RankingSplit) -> tuple[dict[int, dict], dict[int, set[int]]]:
    """Each test user's first test event (by time, then item id): its context as request parameters, and its
    item (what the context speaks of: the rest of the test set came at other times)."""
    params_of: dict[int, dict] = {}
    item_of: dict[int, set[int]] = {}
    for e in ix.time_order():
        user = int(ix.u[e])
        if split.train[e] or user in params_of:
            continue
        params = {"at": datetime.fromtimestamp(int(ds.timestamps[e]), UTC).isoformat()}
        if ds.contexts is not None and ds.contexts[e]:
            params |= ds.contexts[e]
        params_of[user], item_of[user] = params, {int(ix.i[e])}
    return params_of, item_of


def segment_coherence(members: dict[int, list[str]], ds: Dataset, ix: Indexed, split: RankingSplit) -> dict:
    """Per segment: its top category, its share of the members' training events and the overall share."""
    categories = item_categories(ds)
    names = sorted({c for cs in categories.values() for c in cs})
    if not names:
        return {}
    column = {c: n for n, c in enumerate(names)}
    incidence = np.zeros((len(ix.item_ids), len(names)))
    for n, item_id in enumerate(ix.item_ids):
        for c in categories.get(item_id, ()):
            incidence[n, column[c]] = 1.0
    train_u, train_i = ix.u[split.train], ix.i[split.train]
    per_user = np.zeros((len(ix.user_ids), len(names)))
    np.add.at(per_user, train_u, incidence[train_i])
    events = np.bincount(train_u, minlength=len(ix.user_ids)).astype(np.float64)
    overall = per_user.sum(0) / events.sum()
    index_of = {u: n for n, u in enumerate(ix.user_ids)}

    def describe(groups: dict[int, np.ndarray]) -> list[dict]:
        out = []
        for segment, users in sorted(groups.items()):
            counts = per_user[users].sum(0)
            top = distinctive(counts, per_user.sum(0), top=1)
            if not len(top):
                out.append({"segment_id": segment, "users": int(len(users)), "top_category": None, "ratio": 1.0})
                continue
            share = counts[top[0]] / max(events[users].sum(), 1.0)
            out.append({"segment_id": segment, "users": int(len(users)), "top_category": names[top[0]],
                        "share": round(float(share), 4), "overall_share": round(float(overall[top[0]]), 4),
                        "ratio": round(float(share / overall[top[0]]), 3)})
        return out

    groups = {s: np.array([index_of[u] for u in ids if u in index_of], np.int64) for s, ids in members.items()}
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(np.concatenate(list(groups.values()))) if groups else np.zeros(0, np.int64)
    bounds = np.cumsum([0] + [len(g) for g in groups.values()])
    random_groups = {s: shuffled[bounds[n]: bounds[n + 1]] for n, s in enumerate(groups)}
    found, random = describe(groups), describe(random_groups)
    return {"segments": found, "min_ratio": min((s["ratio"] for s in found), default=None),
            "random_segments": random, "random_min_ratio": min((s["ratio"] for s in random), default=None)}


def lean(svc: Service, ds: Dataset, ix: Indexed, users: list[int], asks: dict[str, dict],
         concurrency: int = 4) -> dict:
    """Each category's share of the test users' top 10 under each of two contexts (``asks``: label -> the
    query's context parameters), the categories that move most first: which way a context moves the lists."""
    categories = item_categories(ds)
    counts = {label: Counter() for label in asks}

    def ask(user: int) -> list[tuple[str, list[str]]]:
        out = []
        for label, params in asks.items():
            r = svc.call("GET", f"/v1/users/{ix.user_ids[user]}/recommendations", params={"k": 10, **params})
            out.append((label, [i["item_id"] for i in r.json()["items"]] if r.status_code == 200 else []))
        return out

    with ThreadPoolExecutor(concurrency) as pool:
        for answers in pool.map(ask, users):
            for label, ids in answers:
                for item_id in ids:
                    counts[label].update(categories.get(item_id, ()))
    shown = {label: max(sum(c.values()), 1) for label, c in counts.items()}
    first, second = asks
    shares = {c: {label: round(counts[label][c] / shown[label], 4) for label in asks}
              for c in sorted(set().union(*counts.values()))}
    return dict(sorted(shares.items(), key=lambda kv: -abs(kv[1][first] - kv[1][second])))


def by_hour(day: str) -> dict[str, dict]:
    """The morning and the evening of ``day``: the planted shop's strongest time effect."""
    return {f"{hour:02d}:00": {"at": f"{day}T{hour:02d}:00:00+00:00"} for hour in (8, 20)}


def by_device(day: str) -> dict[str, dict]:
    """Each planted device at one time of day (14:00, where the planted hours weigh most categories alike)."""
    return {device: {"at": f"{day}T14:00:00+00:00", "device": device} for device in DEVICES}


def run_context(svc: Service, ds: Dataset, ix: Indexed, concurrency: int = 4, log=print) -> dict:
    split = p2_temporal(ix)
    result, phases, _ = prepare(svc, split, ds, ix, log)
    if "error" in result:
        return result
    contexts, first_items = first_test_events(ds, ix, split)
    index_of = {item_id: n for n, item_id in enumerate(ix.item_ids)}
    statuses: dict[int, int] = {}

    def ask(user: int) -> tuple[int, list[int], list[int]]:
        lists = []
        for extra in ({}, contexts[user]):
            r = svc.call("GET", f"/v1/users/{ix.user_ids[user]}/recommendations", params={"k": max(KS), **extra})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            items = r.json()["items"] if r.status_code == 200 else []
            lists.append([index_of[i["item_id"]] for i in items if i["item_id"] in index_of])
        return user, lists[0], lists[1]

    plain, timed = {}, {}
    with ThreadPoolExecutor(concurrency) as pool:
        for user, without, with_context in pool.map(ask, split.eval_users.tolist()):
            plain[user], timed[user] = without, with_context
    changed = sum(plain[u][:10] != timed[u][:10] for u in plain)
    result["statuses"] = {str(k): v for k, v in statuses.items()}
    result["without_context"] = service_metrics(plain, split, ix, KS)
    result["with_context"] = service_metrics(timed, split, ix, KS)
    first = replace(split, relevant=first_items)
    result["first_test_item"] = {"without_context": service_metrics(plain, first, ix, (10,)),
                                 "with_context": service_metrics(timed, first, ix, (10,))}
    result["lists_changed_top10"] = round(changed / max(len(plain), 1), 4)
    result["context_fields"] = sorted({k for c in contexts.values() for k in c})
    day = datetime.fromtimestamp(int(ds.timestamps[split.train].max()), UTC).date().isoformat()
    users = split.eval_users.tolist()
    result["lean_by_hour"] = lean(svc, ds, ix, users, by_hour(day), concurrency)
    if "device" in result["context_fields"]:
        result["lean_by_device"] = lean(svc, ds, ix, users, by_device(day), concurrency)

    listed = svc.call("GET", "/v1/segments").json()
    members = {s["segment_id"]: svc.call("GET", f"/v1/segments/{s['segment_id']}/users",
                                         params={"limit": 1000}).json()["users"] for s in listed["segments"]}
    result["segments"] = {"service": [{k: s[k] for k in ("segment_id", "size", "label", "top_categories")}
                                      for s in listed["segments"]],
                          **segment_coherence(members, ds, ix, split)}
    result["phases"] = {k: round(v, 2) for k, v in phases.items()}
    w, c = result["without_context"], result["with_context"]
    f = result["first_test_item"]
    log("      P2 NDCG@10 without context {:.4f}, with {:.4f}; first test item recall@10 {:.4f} -> {:.4f}; lists "
        "changed {:.0%}; segments min ratio {}".format(
            w["ndcg@10"], c["ndcg@10"], f["without_context"]["recall@10"], f["with_context"]["recall@10"],
            result["lists_changed_top10"], result["segments"].get("min_ratio")))
    return result
