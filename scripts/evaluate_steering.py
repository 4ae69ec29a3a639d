"""What steering costs and gives, through the service (default training job, one fresh store per protocol):

- **sessions**: P4's new shoppers asked through both doors in the same run: as stored visitors
  (`GET /v1/users/{id}/recommendations`, their first three events stored) and as anonymous sessions
  (`POST /v1/recommendations` with `items`: the same three items, newest last, no `user_id`), with each
  user's difference and its 95% interval; where the data has profile texts (which a stored visitor has and a
  session has not), once more on a store without them;
- **diversity**: P2 at `diversity` 0, 0.3 and 0.7: recall@10 and NDCG@10 against the lists' variety, measured
  by the data's own categories (ML-100K's genres, the planted shop's categories), which the service never
  reads on ML-100K (its catalog has no category): each list's mean pairwise category overlap (Jaccard of the
  two items' category sets) and how many distinct categories its 10 items cover.

    python -m scripts.evaluate_steering                 # -> docs/evaluation-steering.{json,md}
    python -m scripts.evaluate_steering --datasets ml-100k --out /tmp/steering
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import combinations
from pathlib import Path

import numpy as np

from app.evaluation import datasets
from app.evaluation.datasets import item_categories
from app.evaluation.planted import planted_shop
from app.evaluation.protocols import KS, SPLITS, Indexed
from app.evaluation.service_run import prepare, service_metrics
from scripts.lib.service import spawned_service

ROOT = Path(__file__).resolve().parents[1]
PLANTED = "planted-shop"
DIVERSITY = (0.0, 0.3, 0.7)


def ask_all(svc, users: list[int], request, concurrency: int = 4) -> dict[int, list[str]]:
    """Each user's answer (item ids) to ``request(user) -> response``; a non-200 answer is an empty list."""
    def one(user: int):
        r = request(user)
        return user, [i["item_id"] for i in r.json()["items"]] if r.status_code == 200 else []

    with ThreadPoolExecutor(concurrency) as pool:
        return dict(pool.map(one, users))


def variety(lists: dict[int, list[str]], categories: dict[str, set[str]]) -> dict:
    """Mean pairwise category overlap within a list (Jaccard) and mean distinct categories per list."""
    overlap, covered = [], []
    for ids in lists.values():
        sets = [categories.get(i, set()) for i in ids]
        pairs = [len(a & b) / len(a | b) for a, b in combinations(sets, 2) if a | b]
        overlap.append(float(np.mean(pairs)) if pairs else 0.0)
        covered.append(len(set().union(*sets)) if sets else 0)
    return {"category_overlap": round(float(np.mean(overlap)), 4),
            "categories_covered": round(float(np.mean(covered)), 3)}


def trained(svc, ds, ix: Indexed, protocol: str):
    """The protocol's split posted to the service and trained with defaults: (split, the job's result)."""
    split = SPLITS[protocol](ix)
    result, _, _ = prepare(svc, split, ds, ix, log=lambda s: print(s, flush=True))
    return split, result


def diversity_run(svc, ds, ix: Indexed) -> dict:
    split, result = trained(svc, ds, ix, "P2")
    if "error" in result:
        return result
    index_of = {item_id: n for n, item_id in enumerate(ix.item_ids)}
    categories = item_categories(ds)
    out = {}
    for d in DIVERSITY:
        lists = ask_all(svc, split.eval_users.tolist(), lambda u, d=d: svc.call(
            "GET", f"/v1/users/{ix.user_ids[u]}/recommendations", params={"k": 10, "diversity": d}))
        ranked = {u: [index_of[i] for i in ids if i in index_of] for u, ids in lists.items()}
        out[str(d)] = {**service_metrics(ranked, split, ix, (10,)), **variety(lists, categories)}
        print(f"      diversity {d}: {out[str(d)]}", flush=True)
    return {"users": len(split.eval_users), "by_diversity": out}


def session_run(svc, ds, ix: Indexed) -> dict:
    split, result = trained(svc, ds, ix, "P4")
    if "error" in result:
        return result
    index_of = {item_id: n for n, item_id in enumerate(ix.item_ids)}
    kept: dict[int, list[str]] = {}  # each new shopper's stored events, oldest first
    for e in ix.time_order():
        if split.train[e] and int(ix.u[e]) in split.relevant:
            kept.setdefault(int(ix.u[e]), []).append(ix.item_ids[ix.i[e]])
    users = split.eval_users.tolist()
    doors = {
        "stored visitor (GET /v1/users/{id}/recommendations)": lambda u: svc.call(
            "GET", f"/v1/users/{ix.user_ids[u]}/recommendations", params={"k": max(KS["P4"])}),
        "session (POST /v1/recommendations with items)": lambda u: svc.call(
            "POST", "/v1/recommendations", json={"items": kept[u], "k": max(KS["P4"])}),
    }
    out, each = {}, {}
    for door, request in doors.items():
        lists = ask_all(svc, users, request)
        ranked = {u: [index_of[i] for i in ids if i in index_of] for u, ids in lists.items()}
        out[door] = service_metrics(ranked, split, ix, KS["P4"])
        each[door] = per_user(ranked, split, ix, users)
        print(f"      {door}: {out[door]}", flush=True)
    stored, session = (each[door] for door in doors)
    return {"users": len(users), "by_door": out, "session_minus_stored": paired_interval(session - stored)}


def per_user(ranked: dict[int, list[int]], split, ix: Indexed, users: list[int]) -> np.ndarray:
    """(users, 2): each user's recall@10 and NDCG@10, by the same metric code on a split of that user alone."""
    return np.array([[(m := service_metrics(ranked, replace(split, eval_users=np.array([u])), ix, KS["P4"]))
                      ["recall@10"], m["ndcg@10"]] for u in users])


def paired_interval(diff: np.ndarray, resamples: int = 2000) -> dict:
    """The mean of each user's difference (session - stored) in recall@10 and NDCG@10, with a 95% interval from
    resampling the users (the two doors' lists of one user stay paired): an interval that holds 0 is a
    difference this many users cannot tell from none."""
    rng = np.random.default_rng(0)
    means = np.array([diff[rng.integers(0, len(diff), len(diff))].mean(0) for _ in range(resamples)])
    low, high = np.percentile(means, [2.5, 97.5], axis=0)
    return {name: {"mean": round(float(diff[:, n].mean()), 4), "interval": [round(float(low[n]), 4),
                                                                            round(float(high[n]), 4)]}
            for n, name in enumerate(("recall@10", "ndcg@10"))}


def markdown(report: dict) -> str:
    lines = ["# Steering through the service: sessions and diversity", "", f"`{report['command']}` "
             f"({report['started_at']}, {report['seconds']:.0f} s; default training job, one fresh SQLite store "
             "per protocol)", "", "## Sessions: P4's new shoppers through both doors, same run", "",
             "| data set | door | users | recall@10 | NDCG@10 |", "| --- | --- | --- | --- | --- |"]
    runs = (("sessions", ""), ("sessions_without_profiles", " (a store without profiles)"))
    for name, r in report["results"].items():
        for key, label in runs:
            for door, m in r.get(key, {}).get("by_door", {}).items():
                lines.append(f"| {name}{label} | {door} | {r[key]['users']} | {m['recall@10']:.4f} "
                             f"| {m['ndcg@10']:.4f} |")
    for name, r in report["results"].items():
        for key, label in runs:
            if d := r.get(key, {}).get("session_minus_stored"):
                lines += ["", f"{name}{label}, session minus stored visitor, per user (95% interval, users "
                          "resampled): " + "; ".join(f"{metric} {v['mean']:+.4f} [{v['interval'][0]:+.4f}, "
                                                     f"{v['interval'][1]:+.4f}]" for metric, v in d.items())]
    lines += ["", "## Diversity on P2", "", "Variety by the data's own categories (never read by the service on "
              "ML-100K): mean pairwise category overlap within a list (Jaccard; lower is more varied) and distinct "
              "categories among its 10 items.", "",
              "| data set | diversity | recall@10 | NDCG@10 | category overlap | categories covered |",
              "| --- | --- | --- | --- | --- | --- |"]
    for name, r in report["results"].items():
        for d, m in r.get("diversity", {}).get("by_diversity", {}).items():
            lines.append(f"| {name} | {d} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} | {m['category_overlap']:.4f} "
                         f"| {m['categories_covered']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--datasets", default=f"ml-100k,{PLANTED}")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation-steering")
    p.add_argument("--parts", default="diversity,sessions", help="which of the two to run")
    args = p.parse_args()
    started, started_at = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = {"command": "python -m scripts.evaluate_steering" + (f" --datasets {args.datasets}"
                                                                   if args.datasets != p.get_default("datasets")
                                                                   else "")
                         + (f" --parts {args.parts}" if args.parts != p.get_default("parts") else ""),
              "started_at": started_at, "results": {}}
    for name in args.datasets.split(","):
        ds = planted_shop() if name == PLANTED else datasets.load(name, args.data_root)
        ix = Indexed(ds)
        print(f"{name}: {len(ds)} events", flush=True)
        r = report["results"].setdefault(name, {})
        if "diversity" in args.parts:
            with spawned_service() as svc:
                r["diversity"] = diversity_run(svc, ds, ix)
        if name != PLANTED and "sessions" in args.parts:  # the planted shop's users all have 30 events
            with spawned_service() as svc:
                r["sessions"] = session_run(svc, ds, ix)
            if ds.user_text:  # a stored visitor's profile is what a session lacks: both doors on a store without
                bare = replace(ds, user_text={})
                with spawned_service() as svc:
                    r["sessions_without_profiles"] = session_run(svc, bare, Indexed(bare))
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
