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


def lean(svc: Service, ds: Dataset, ix: Indexed, users: list[int], day: str, concurrency: int = 4) -> dict:
    """Each category's share of the test users' top 10 at 08:00 and at 20:00 UTC of ``day`` (the day of the
    last training event): which way the time of day moves the lists."""
    categories = item_categories(ds)
    counts = {hour: Counter() for hour in (8, 20)}

    def ask(user: int) -> list[tuple[int, list[str]]]:
        out = []
        for hour in counts:
            r = svc.call("GET", f"/v1/users/{ix.user_ids[user]}/recommendations",
                         params={"k": 10, "at": f"{day}T{hour:02d}:00:00+00:00"})
            out.append((hour, [i["item_id"] for i in r.json()["items"]] if r.status_code == 200 else []))
        return out

    with ThreadPoolExecutor(concurrency) as pool:
        for answers in pool.map(ask, users):
            for hour, ids in answers:
                for item_id in ids:
                    counts[hour].update(categories.get(item_id, ()))
    shown = {hour: max(sum(c.values()), 1) for hour, c in counts.items()}
    names = sorted(set(counts[8]) | set(counts[20]))
    shares = {c: {"08:00": round(counts[8][c] / shown[8], 4), "20:00": round(counts[20][c] / shown[20], 4)}
              for c in names}
    return dict(sorted(shares.items(), key=lambda kv: -abs(kv[1]["08:00"] - kv[1]["20:00"])))


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
    result["lean_by_hour"] = lean(svc, ds, ix, split.eval_users.tolist(), day, concurrency)

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
