"""P5 (shared PROTOCOLS.md): simulated shoppers in conversations with the service, beside paging through
plain recommendations and the opening words as a query, on the same trained service in the same run.

The model is trained on the P2 training split (``service_run.prepare``). 200 shoppers are drawn from the P2
test users (``default_rng(5)``); each one's target is their first test item by item id. The shopper opens
with words from the target's text, never its title (ML-100K: its genres and decade; Amazon: its category and
the three TF-IDF-heaviest description words not in its title). Each turn shows k=10; the target shown is a
success at that turn; otherwise the shopper likes up to 2 shown items sharing a genre or category with the
target, dislikes up to 3 others, and says nothing new. Up to 5 turns.

    result = run_p5(svc, ds, ix)   # {"semrec conversation": {"success@1": ...}, "paging ...": ...}
"""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from app.evaluation.datasets import Dataset
from app.evaluation.protocols import Indexed, p2_temporal
from app.evaluation.service_run import Service, prepare

N_SHOPPERS, TURNS, K = 200, 5, 10
_GENRES = re.compile(r"Genres: ([^.]*)\.")
_YEAR = re.compile(r"Released (\d{4})\.")


@dataclass(frozen=True)
class Shopper:
    user_id: str
    target: str
    opening: str
    kinds: frozenset[str]  # the target's genres or categories: what a liked item must share


def kinds(ds: Dataset) -> dict[str, frozenset[str]]:
    """Each item's genres (ML-100K, from its description) or catalog categories (Amazon: the category path,
    or the data set's own category where the path is empty)."""
    own = ds.name.removeprefix("amazon-").replace("-", " ")
    out = {}
    for item_id, r in ds.item_records.items():
        m = _GENRES.search(r.get("description") or "")
        if m:
            out[item_id] = frozenset(g.strip() for g in m.group(1).split(",") if g.strip() != "unknown")
        else:
            out[item_id] = frozenset(c.strip() for c in (r.get("category") or own).split(",") if c.strip())
    return out


def openings(ds: Dataset, item_ids: list[str]) -> dict[str, str]:
    """The first words of a shopper after ``item_id``, never its title."""
    records = ds.item_records
    if any(_GENRES.search(records.get(i, {}).get("description") or "") for i in item_ids[:50]):
        return {i: _movie_words(records.get(i, {})) for i in item_ids}
    from sklearn.feature_extraction.text import TfidfVectorizer

    catalog = sorted(records)
    tfidf = TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b")
    matrix = tfidf.fit_transform([records[i].get("description") or "" for i in catalog])
    vocabulary = tfidf.get_feature_names_out()
    row_of = {i: n for n, i in enumerate(catalog)}
    own = ds.name.removeprefix("amazon-").replace("-", " ")
    out = {}
    for item_id in item_ids:
        record = records.get(item_id, {})
        title = {w.lower() for w in re.findall(r"[A-Za-z]+", record.get("title") or "")}
        row = matrix[row_of[item_id]] if item_id in row_of else None
        words = []
        if row is not None and row.nnz:
            for n in row.indices[np.argsort(-row.data, kind="stable")]:
                if vocabulary[n] not in title:
                    words.append(vocabulary[n])
                if len(words) == 3:
                    break
        category = (record.get("category") or own).split(",")[0].strip().lower()
        out[item_id] = f"I'd like {category}" + (f": {', '.join(words)}" if words else "")
    return out


def _movie_words(record: dict) -> str:
    m = _GENRES.search(record.get("description") or "")
    genres = [g.strip().lower() for g in m.group(1).split(",") if g.strip() != "unknown"] if m else []
    said = " and ".join([", ".join(genres[:-1]), genres[-1]] if len(genres) > 1 else genres)
    year = _YEAR.search(record.get("description") or "")
    article = "an" if said[:1] in "aeiou" and said else "a"
    text = f"I'd like {article} {said} movie" if said else "I'd like a movie"
    return text + (f" from the {year.group(1)[:3]}0s" if year else "")


def draw(ds: Dataset, ix: Indexed, split) -> list[Shopper]:
    users = np.sort(split.eval_users)
    chosen = np.sort(np.random.default_rng(5).choice(users, size=min(N_SHOPPERS, len(users)), replace=False))
    targets = {int(u): ix.item_ids[min(split.relevant[int(u)])] for u in chosen}
    words = openings(ds, sorted(set(targets.values())))
    kind = kinds(ds)
    return [Shopper(ix.user_ids[u], t, words[t], kind.get(t, frozenset())) for u, t in targets.items()]


def _feedback(shopper: Shopper, shown: list[str], kind: dict[str, frozenset[str]]) -> list[dict]:
    sharing = [i for i in shown if kind.get(i, frozenset()) & shopper.kinds]
    others = [i for i in shown if i not in sharing]
    return ([{"item_id": i, "signal": "like"} for i in sharing[:2]]
            + [{"item_id": i, "signal": "dislike"} for i in others[:3]])


def _successes(found_at: list[int | None]) -> dict[str, float]:
    n = max(1, len(found_at))
    return {f"success@{t}": sum(1 for f in found_at if f is not None and f <= t) / n for t in range(1, TURNS + 1)}


def in_two(opening: str) -> tuple[str, str | None]:
    """The opening said in two messages, at its last " from the " or ": " ("I'd like a comedy movie", "from the
    1990s"; "I'd like gift cards", "birthday, mom, card"), or whole (None) when it has neither."""
    cut = max(opening.rfind(" from the "), opening.rfind(": "))
    if cut <= 0:
        return opening, None
    return opening[:cut].strip(), opening[cut:].lstrip(" :")


def run_p5(svc: Service, ds: Dataset, ix: Indexed, concurrency: int = 4, log=print, two_step: bool = False) -> dict:
    """``two_step``: each shopper says the opening in two messages (``in_two``), the second with the first
    turn's feedback, so a topic holds two wishes (analyse_conversation.py --two-step)."""
    split = p2_temporal(ix)
    result, phases, _ = prepare(svc, split, ds, ix, log)
    if "error" in result:
        return {"_error": result["error"]}
    shoppers = draw(ds, ix, split)
    kind = kinds(ds)
    statuses: Counter = Counter()
    latencies: list[float] = []

    def timed(method: str, path: str, **kw):
        start = time.perf_counter()
        r = svc.call(method, path, **kw)
        if "/messages" in path:
            latencies.append(time.perf_counter() - start)
        statuses[r.status_code] += 1
        return r.json() if r.status_code in (200, 201) else {}

    def turn_of(ids: list[str], target: str) -> int | None:
        return ids.index(target) // K + 1 if target in ids[: K * TURNS] else None

    def shop(s: Shopper) -> dict[str, int | None]:
        paging = [i["item_id"] for i in timed("GET", f"/v1/users/{s.user_id}/recommendations",
                                              params={"k": K * TURNS}).get("items", [])]
        query = [i["item_id"] for i in timed("POST", "/v1/recommendations", json={
            "user_id": s.user_id, "query": s.opening, "k": K * TURNS}).get("items", [])]
        cid = timed("POST", "/v1/conversations", json={"user_id": s.user_id}).get("conversation_id")
        first, rest = in_two(s.opening) if two_step else (s.opening, None)
        found, body = None, {"text": first, "k": K}
        for turn in range(1, TURNS + 1):
            shown = [i["item_id"] for i in timed("POST", f"/v1/conversations/{cid}/messages",
                                                 json=body).get("items", [])]
            if s.target in shown:
                found = turn
                break
            body = {"feedback": _feedback(s, shown, kind), "k": K}
            if rest is not None:
                body["text"], rest = rest, None
            elif not body["feedback"]:
                body["text"] = "show me more"  # a shopper with nothing to like or dislike asks again
        one_shot = turn_of(query, s.target)
        return {"conversation": found, "paging": turn_of(paging, s.target),
                "query_paged": one_shot, "query_once": one_shot if one_shot == 1 else None}

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        runs = list(pool.map(shop, shoppers))
    seconds = time.perf_counter() - start
    names = {"semrec conversation": "conversation", "paging plain recommendations": "paging",
             "one-shot query (its first 10)": "query_once", "query, paged (10 more a turn)": "query_paged"}
    out = {name: _successes([r[key] for r in runs]) for name, key in names.items()}
    ms = np.array(latencies) * 1000
    out["_users"] = len(shoppers)
    out["_service"] = {"statuses": {str(k): v for k, v in statuses.items()}, "query_s": round(seconds, 1),
                       "message_ms_p50": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
                       "message_ms_p99": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
                       "model_version": result.get("model_version"), **{k: round(v, 1) for k, v in phases.items()}}
    out["_examples"] = [{"user_id": s.user_id, "target": s.target, "opening": s.opening} for s in shoppers[:3]]
    log("      P5: " + "  ".join(f"{n} s@5 {r['success@5']:.3f}" for n, r in out.items() if not n.startswith("_")))
    return out
