"""The evaluation through the service (shared PROTOCOLS.md, "Through the service"): one protocol's split,
run the way a storefront uses semrec, over HTTP only.

A fresh store, ``python -m app`` on a free port (and ``python -m app.worker`` on PostgreSQL, where the API
runs no jobs), the catalog, users and the split's *training* events posted in batches, one training job with
default parameters, then the recommendation routes asked right after the job reports ``succeeded``. The figures
come from the protocol module's own ``ranking_metrics`` over the ids the service returned, so they compare
with ``scripts/evaluate.py``'s library figures: same split functions, same metric code.

    with spawned_service(database_url=None) as svc:   # scripts.lib.service's
        result = run_protocol(svc, "P2", ds, ix)
"""

from __future__ import annotations

import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from app.evaluation.datasets import Dataset
from app.evaluation.protocols import KS, SPLITS, Indexed, RankingSplit, ranking_metrics

BATCH = 10_000  # the API's batch limit
MAX_TEXT = 20_000  # the API's text field limit


@dataclass
class Service:
    """A running semrec as the protocols speak to it (``scripts.lib.service.spawned_service`` makes one)."""

    url: str
    key: str
    database: str  # "sqlite" or "postgresql"
    client: httpx.Client
    log: Path  # the server's (and worker's) stdout and stderr

    def call(self, method: str, path: str, **kw) -> httpx.Response:
        return self.client.request(method, path, **kw)


# ---------------------------------------------------------------- what is posted


def item_records(ds: Dataset, ix: Indexed) -> list[dict]:
    """The catalog as the loader read it, in the API's fields (title, category, description, attributes,
    price): the text the service's encoder composes from them is the library's, word for word."""
    return [{k: v for k, v in ds.item_records.get(i, {"item_id": i, "title": ds.item_text.get(i) or i}).items()
             if v is not None} for i in ix.item_ids]


def user_records(ix: Indexed) -> list[dict]:
    """Users with a profile text (ML-100K demographics); the others are created bare by their events."""
    return [{"user_id": u, "profile_text": t[:MAX_TEXT]} for u, t in zip(ix.user_ids, ix.user_texts, strict=True)
            if t]


def review_texts(ds: Dataset) -> dict[tuple[str, str], str]:
    """(user, item) -> the review text, for data sets whose events carry one (Amazon)."""
    if ds.reviews is None:
        return {}
    return {(str(u), str(i)): t[:MAX_TEXT] for u, i, t in zip(ds.users, ds.items, ds.reviews, strict=True) if t}


def training_events(ds: Dataset, split: RankingSplit, texts: dict[tuple[str, str], str]) -> list[dict]:
    """The split's training events only, as star ratings with their original time and review text."""
    out = []
    for e in np.flatnonzero(split.train):
        user, item = str(ds.users[e]), str(ds.items[e])
        event = {"user_id": user, "item_id": item, "type": "rating", "value": float(ds.ratings[e]),
                 "timestamp": datetime.fromtimestamp(int(ds.timestamps[e]), UTC).isoformat(),
                 "event_id": f"{user}:{item}"}
        if texts.get((user, item)):
            event["text"] = texts[(user, item)]
        if ds.contexts is not None and ds.contexts[e]:
            event["context"] = ds.contexts[e]
        out.append(event)
    return out


# ---------------------------------------------------------------- the figures


def service_metrics(lists: dict[int, list[int]], split: RankingSplit, ix: Indexed, ks: tuple[int, ...]) -> dict:
    """The protocol module's ``ranking_metrics`` over the lists the service returned (item indexes, best
    first). The returned items get descending scores; every other item -inf. So that a short or empty list is
    not topped up by the metric's tie-break with items the service never named, ``max(ks)`` phantom items
    (never relevant) score just above -inf and fill it."""
    kmax = max(ks)
    n_items = len(ix.item_ids)
    users = split.eval_users
    scores = np.full((len(users), n_items + kmax), -np.inf)
    scores[:, n_items:] = -1e300
    for row, user in enumerate(users):
        ranked = lists.get(int(user), [])[:kmax]
        scores[row, ranked] = np.arange(len(ranked), 0, -1, dtype=np.float64)
    if split.candidates is not None:
        split = replace(split, candidates=np.concatenate([split.candidates, np.arange(n_items, n_items + kmax)]))
    return ranking_metrics(scores, users, split, ix, ks)


# ---------------------------------------------------------------- one protocol through the service


@dataclass
class Answers:
    """What the query phase saw, for the report."""

    statuses: Counter = field(default_factory=Counter)
    strategies: Counter = field(default_factory=Counter)
    version_mismatch: int = 0  # answers whose model_version is not the job's
    versions_seen: Counter = field(default_factory=Counter)
    empty: int = 0
    short: int = 0  # fewer items than asked for
    seen_returned: int = 0  # training items of the user in a list that should leave them out
    unknown_ids: int = 0  # ids in the answer the evaluation does not know
    non_finite_scores: int = 0
    first_mismatch_after_s: float | None = None
    last_mismatch_after_s: float | None = None

    def as_dict(self) -> dict:
        return {"requests": sum(self.statuses.values()), "statuses": {str(k): v for k, v in self.statuses.items()},
                "non_200": sum(v for k, v in self.statuses.items() if k != 200),
                "model_version_mismatch": self.version_mismatch,
                "versions_seen": dict(self.versions_seen), "strategies": dict(self.strategies),
                "empty_lists": self.empty, "short_lists": self.short, "seen_items_returned": self.seen_returned,
                "unknown_ids_returned": self.unknown_ids, "non_finite_scores": self.non_finite_scores,
                "first_mismatch_after_s": self.first_mismatch_after_s,
                "last_mismatch_after_s": self.last_mismatch_after_s}


def _post_batches(svc: Service, path: str, key: str, records: list[dict]) -> dict:
    totals: Counter = Counter()
    for start in range(0, len(records), BATCH):
        r = svc.call("POST", path, json={key: records[start:start + BATCH]})
        if r.status_code != 200:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:500]}")
        totals.update({k: v for k, v in r.json().items() if isinstance(v, int)})
    return dict(totals)




def run_job(svc: Service, path: str, body: dict, log=print, poll_s: float = 0.25, timeout_s: float = 3600) -> dict:
    """Queue a job at ``path`` and follow it to its end, logging its progress: the finished job."""
    r = svc.call("POST", path, json=body)
    if r.status_code != 202:
        raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:500]}")
    job_id, last, started = r.json()["job_id"], None, time.monotonic()
    last_at, deadline = started, started + timeout_s
    while True:
        job = svc.call("GET", f"/v1/jobs/{job_id}").json()
        shown = (job["status"], job["progress"]["total"])  # a new status or step, or every 10 s
        if shown != last or time.monotonic() - last_at > 10 or job["status"] in ("succeeded", "failed"):
            log(f"      job {job_id[:8]} {job['status']:9s} {job['progress']['done']}/{job['progress']['total']}"
                f"  ({time.monotonic() - started:.0f} s)")
            last, last_at = shown, time.monotonic()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} ({path}) not done within {timeout_s:.0f} s")
        time.sleep(poll_s)


def prepare(svc: Service, split: RankingSplit, ds: Dataset, ix: Indexed, log=print,
            before_train=None, train_body: dict | None = None) -> tuple[dict, dict, float]:
    """Post the catalog, the profiles and the split's training events to a fresh service, and train once
    with defaults (``train_body``, default ``{}``: a seed spread sends ``{"seed": s}``): (the result so far,
    phase times, when the job was seen succeeded). ``result["error"]`` is set when the job did not succeed.
    ``before_train(svc) -> dict``: a step between ingest and training (P6 writes the generated reviews
    there); its answer is ``result["before_train"]``."""
    phases: dict[str, float] = {}
    start = time.perf_counter()
    items = item_records(ds, ix)
    events = training_events(ds, split, review_texts(ds))
    users = user_records(ix)  # every profile the data has (P4's cold users keep theirs), as a shop holds them
    ingest = {"items": _post_batches(svc, "/v1/items/batch", "items", items),
              "users": _post_batches(svc, "/v1/users/batch", "users", users) if users else {},
              "interactions": _post_batches(svc, "/v1/interactions", "interactions", events),
              "events_with_text": sum(1 for e in events if "text" in e)}
    phases["ingest_s"] = time.perf_counter() - start
    log(f"      ingest: {len(items)} items, {len(users)} users with text, {len(events)} training events "
        f"({ingest['events_with_text']} with text) in {phases['ingest_s']:.1f} s")

    before = None
    if before_train is not None:
        start = time.perf_counter()
        before = before_train(svc)
        phases["before_train_s"] = time.perf_counter() - start
    start = time.perf_counter()
    job = run_job(svc, "/v1/training/jobs", train_body or {}, log)
    phases["train_s"] = time.perf_counter() - start
    succeeded_at = time.perf_counter()
    result = {"users": int(len(split.eval_users)), "train_events": len(events), "ingest": ingest,
              "job": {k: job.get(k) for k in ("job_id", "status", "error", "params", "attempts")}}
    if before is not None:
        result["before_train"] = before
    job_result = dict(job.get("result") or {})
    if isinstance(job_result.get("epochs"), list):  # the per-epoch trace: its length and last entry suffice
        job_result["epochs"] = {"count": len(job_result["epochs"]),
                                "last": job_result["epochs"][-1] if job_result["epochs"] else None}
    result["job"]["result"] = job_result
    if job["status"] != "succeeded":
        result["error"] = f"training job {job['status']}: {job.get('error')}"
        log(f"      {result['error']}")
    else:
        result["model_version"] = job_result.get("model_version")
        log(f"      trained {result['model_version']} in {phases['train_s']:.1f} s")
    return result, phases, succeeded_at


def run_protocol(svc: Service, protocol: str, ds: Dataset, ix: Indexed, concurrency: int = 4,
                 log=print, before_train=None, train_body: dict | None = None) -> dict:
    """Post the protocol's training data to a fresh service, train once with defaults (or ``train_body``),
    ask the routes."""
    split = SPLITS[protocol](ix)
    ks = KS[protocol]
    result, phases, succeeded_at = prepare(svc, split, ds, ix, log, before_train, train_body)
    if "error" in result:
        phases["query_s"] = 0.0
        result["phases"] = {k: round(v, 2) for k, v in phases.items()}
        return result
    version = result["model_version"]
    log(f"      asking {len(split.eval_users)} users")

    index_of = {item_id: n for n, item_id in enumerate(ix.item_ids)}
    train_items: dict[int, set[int]] = {}
    for u, i in zip(ix.u[split.train], ix.i[split.train], strict=True):
        train_items.setdefault(int(u), set()).add(int(i))
    answers = Answers()
    cold_ids = [ix.item_ids[i] for i in split.candidates] if split.candidates is not None else []

    def ask(user: int) -> tuple[int, dict[int, list[int]], list[tuple]]:
        user_id = ix.user_ids[user]
        if protocol == "P3":
            requests = [("rank", None, lambda: svc.call("POST", f"/v1/users/{user_id}/rank",
                                                         json={"item_ids": cold_ids}))]
        else:
            requests = [("recs", k, lambda k=k: svc.call("GET", f"/v1/users/{user_id}/recommendations",
                                                         params={"k": k})) for k in ks]
        lists, seen = {}, []
        for _name, k, send in requests:
            r = send()
            at = time.perf_counter() - succeeded_at
            body = r.json() if r.status_code == 200 else {}
            ids = [it["item_id"] for it in body.get("items", [])]
            seen.append((r.status_code, body.get("model_version"), body.get("strategy"), ids,
                         [it.get("score") for it in body.get("items", [])], k, at))
            lists[k] = [index_of[i] for i in ids if i in index_of]
        return user, lists, seen

    start = time.perf_counter()
    by_k: dict[int | None, dict[int, list[int]]] = {}
    with ThreadPoolExecutor(concurrency) as pool:
        for user, lists, seen in pool.map(ask, split.eval_users.tolist()):
            for k, ranked in lists.items():
                by_k.setdefault(k, {})[user] = ranked
            for status, got_version, strategy, ids, scores, k, at in seen:
                answers.statuses[status] += 1
                if status != 200:
                    continue
                answers.strategies[strategy] += 1
                answers.versions_seen[str(got_version)] += 1
                if got_version != version:
                    answers.version_mismatch += 1
                    answers.first_mismatch_after_s = min(answers.first_mismatch_after_s or at, at)
                    answers.last_mismatch_after_s = max(answers.last_mismatch_after_s or 0.0, at)
                want = len(cold_ids) if k is None else k
                answers.empty += not ids
                answers.short += len(ids) < want
                answers.unknown_ids += sum(1 for i in ids if i not in index_of)
                answers.non_finite_scores += sum(1 for s in scores if not (isinstance(s, int | float)
                                                                           and math.isfinite(s)))
                if protocol != "P3":
                    answers.seen_returned += sum(1 for i in ids if index_of.get(i) in train_items.get(user, ()))
    phases["query_s"] = time.perf_counter() - start

    metrics = {}
    if protocol == "P3":
        metrics.update(service_metrics(by_k[None], split, ix, ks))
    else:
        for k in ks:
            metrics.update(service_metrics(by_k[k], split, ix, (k,)))
    result.update(metrics)
    result["model_version"] = version
    result["answers"] = answers.as_dict()
    result["phases"] = {k: round(v, 2) for k, v in phases.items()}
    a = result["answers"]
    log(f"      {protocol}: " + "  ".join(f"{m} {v:.4f}" for m, v in metrics.items())
        + f"  | {a['requests']} requests in {phases['query_s']:.1f} s, non-200 {a['non_200']}, "
          f"version mismatch {a['model_version_mismatch']}, empty {a['empty_lists']}, strategies {a['strategies']}")
    return result


def smoke_slice(ds: Dataset, n_users: int) -> Dataset:
    """The first ``n_users`` users in id order with all their events (as scripts/evaluate.py --smoke)."""
    keep = set(sorted(np.unique(ds.users), key=lambda u: int(u) if u.isdigit() else u)[:n_users])
    small = ds.subset(np.array([u in keep for u in ds.users]))
    small.user_text = ds.user_text
    return small
