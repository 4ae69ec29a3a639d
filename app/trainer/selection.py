"""Choose per shop what each route family serves, on the shop's own held-out events (``app.trainer.carve``).

Every candidate is a blend of standardised scores, so that it is served by the same inner product as the
factors (the terms of ``neighbourhood``, ``lexical``, ``popularity`` and ``content`` appended to them):

- next items: factors + w_knn · item-kNN + w_lex · TF-IDF of the user's items' words + w_pop · popularity
  + w_ease · EASE (its λ chosen first, by EASE alone);
- new items (ranked among themselves): w_map · the text map's scores + w_content · TF-IDF.

Each component is standardised per user (mean 0, spread 1 over the items ranked), so a weight means the same
for every user and every shop. The simple peers are candidates alone (a weight of ``ALONE``: the factors only
break ties), so the choice is never below a peer on the shop's own validation beyond noise. The incumbent is
the blend the parameters name (the defaults); a candidate replaces it only when it scores higher by more than
``MARGIN`` standard errors of the paired difference and by ``MIN_GAIN`` of the incumbent's figure. The first
because on a small shop the carve is a few hundred events and the best of sixty blends on them is partly luck;
the second because the carve is scored by a fit that saw less than the served one (the carved events), which
can flatter the terms beside the factors, and the defaults were argued on two data sets: a switch must be worth
more than their margin of error (docs/training.md, "Chosen per shop", with what a looser rule did).

    choice = next_items(data, fit_rows, next_rows, validated_factors, params)
    choice.weights   # {"neighbourhood_weight": 2.0, ...}: what the served fit appends
    choice.report()  # {"served", "chosen", "candidates": {name: recall@20}, "events"}
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from app.trainer import content, ease, lexical, neighbourhood, terms
from app.trainer.types import Factors, TrainData, TrainParams

ALONE = 100.0  # a peer's weight when it ranks alone
MARGIN = 2.0  # standard errors of the paired difference a candidate must win by to replace the incumbent
MIN_GAIN = 0.10  # and its relative gain over the incumbent (docs/training.md, "Chosen per shop")
POOL = 50  # next items: each component's top this many per user are the pool the blends are scored on
MAX_CATALOG = 50_000  # item-kNN and the lexical term are scored up to this many items (as peers.MAX_ITEMS)
CHUNK_SCORES = 4_000_000
K = 20

TEXT_PEERS = {"catalog": "tfidf", "reviews": "tfidf_reviews", "vectors": "dense_text"}  # a text term's name alone
NEXT_GRID = {"neighbourhood_weight": (0.0, 0.5, 1.0, 2.0, 4.0), "lexical_weight": (0.0, 0.5, 1.0, 2.0),
             "popularity_weight": (0.0, 0.5, 1.0), "ease_weight": (0.0, 1.0, 2.0)}
NEW_GRID = {"text_map_weight": (0.0, 0.5, 1.0), "content_weight": (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)}


@dataclass
class Choice:
    """One route family's candidates on its carve and the one chosen."""

    weights: dict  # the chosen parameter values (the weights, and which text a term reads)
    chosen: str
    figures: dict[str, float]  # candidate name -> recall@k
    events: int
    k: int
    evidence: dict  # the best candidate, its gain over the default and the standard error of that gain

    def report(self) -> dict:
        weights = {n: v for n, v in self.weights.items() if not isinstance(v, str)}  # the texts: in the evidence
        return {"served": self.figures.get(self.chosen), "chosen": self.chosen, "weights": weights,
                "candidates": self.figures, "events": self.events, "metric": f"recall@{self.k}",
                "evidence": self.evidence}


def top_k(n_items: int) -> int:
    """The list length a carve is scored at: 20, or a fifth of the items ranked where there are fewer than
    100 (on a 40-item shop the top 20 is half the catalog and tells little apart)."""
    return max(1, min(K, n_items // 5))


def _standardised(s: np.ndarray) -> np.ndarray:
    s = s - s.mean(1, keepdims=True)
    return s / np.maximum(s.std(1, keepdims=True), 1e-12)


def _recall(z: np.ndarray, valid: np.ndarray, relevant: np.ndarray, total: np.ndarray, w: np.ndarray,
            k: int) -> np.ndarray:
    """Per user, the share of their ``total`` relevant items in the top k of the blend ``w`` of components
    ``z`` (users x components x pool; ``relevant``: which pool entries are theirs)."""
    s = np.einsum("ucp,c->up", z, w)
    s[~valid] = -np.inf
    kk = min(k, s.shape[1])
    top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
    hits = np.take_along_axis(relevant, top, 1).sum(1)
    return hits / np.maximum(total, 1)


def _choose(z, valid, relevant, total, components: list[str], incumbent: dict[str, float], grid: dict, alone: dict,
            fixed: dict[str, float], k: int) -> Choice:
    """Score every candidate (the grid's blends, the peers alone, the incumbent); keep the incumbent unless
    the best beats it beyond MARGIN standard errors."""
    def vector(weights: dict[str, float]) -> np.ndarray:
        return np.array([weights.get(c, fixed.get(c, 1.0)) for c in components])

    per_user: dict[str, np.ndarray] = {}
    weights_of: dict[str, dict[str, float]] = {}
    for name, weights in [("default", incumbent), *alone.items()]:
        per_user[name], weights_of[name] = _recall(z, valid, relevant, total, vector(weights), k), weights
    names = list(grid)
    for values in itertools.product(*grid.values()):
        weights = dict(zip(names, values, strict=True))
        if not np.any(vector(weights)):
            continue
        name = "blend " + " ".join(f"{n.removesuffix('_weight')}={v:g}" for n, v in weights.items())
        per_user[name], weights_of[name] = _recall(z, valid, relevant, total, vector(weights), k), weights
    chosen, shown, evidence = decide(per_user, "default", ["default", *alone])
    return Choice({n: float(v) for n, v in weights_of[chosen].items()}, chosen, shown, len(per_user["default"]), k,
                  evidence)


def decide(per_user: dict[str, np.ndarray], incumbent: str, shown: list[str]) -> tuple[str, dict, dict]:
    """The rule every route family chooses by: the candidate with the highest mean (``per_user``: each
    candidate's figure per held-out user) replaces ``incumbent`` only when it wins by MARGIN standard errors
    of the paired difference and by MIN_GAIN. Returns the one chosen, the figures of ``shown`` (and of the
    chosen and the best), and the evidence."""
    base = per_user[incumbent]
    best = max(per_user, key=lambda n: (per_user[n].mean(), n == incumbent))
    diff = per_user[best] - base
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.inf
    clear = diff.mean() > MARGIN * se and per_user[best].mean() > (1.0 + MIN_GAIN) * base.mean()
    chosen = best if clear else incumbent
    evidence = {"best": best, "gain": round(float(diff.mean()), 5), "standard_error": round(se, 5)}
    figures = {n: round(float(per_user[n].mean()), 5) for n in dict.fromkeys([*shown, chosen, best])}
    return chosen, figures, evidence


def next_items(data: TrainData, fit_rows: np.ndarray, next_rows: np.ndarray, factors: Factors,
               p: TrainParams) -> Choice | None:
    """The next-items blend, on each carved user's latest event; ``factors`` fit on ``fit_rows`` alone."""
    if not len(next_rows):
        return None
    x = terms.binary(data, fit_rows)
    components, parts = ["factors"], []
    counts = np.asarray(x.sum(0)).ravel()
    small = data.n_items <= MAX_CATALOG
    rank = min(p.neighbourhood_rank, data.n_users - 1, data.n_items - 1)
    e = neighbourhood.item_side(x, rank, p.seed) if small and rank >= 1 else None
    if e is not None:
        components.append("neighbourhood_weight")
    sides = _lexical_sides(data, fit_rows, p) if small else {}
    if sides:  # one of them stays: the best alone
        components += ["lexical_weight", *(f"lexical@{text}" for text in list(sides)[1:])]
    components.append("popularity_weight")
    spectrum = ease.spectrum(x, rank, p.seed) if small and rank >= 1 else None
    lambdas = ease.LAMBDAS if spectrum is not None else ()
    components += [f"ease@{lam:g}" for lam in lambdas]  # one of them stays: the best alone
    pop = np.log1p(counts)
    truth = terms.binary(data, next_rows)
    users = np.unique(data.users[next_rows])
    size = max(1, min(512, CHUNK_SCORES // max(data.n_items, 1)))
    for start in range(0, len(users), size):
        u = users[start: start + size]
        had, t = x[u], truth[u]
        scores = [factors.user_factors[u] @ factors.item_factors.T + factors.item_bias]
        if e is not None:
            scores.append(np.asarray(had @ e) @ e.T)
        for side in sides.values():
            profile = np.asarray(had @ side)
            scores.append(profile / np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12) @ side.T)
        scores.append(np.tile(pop, (len(u), 1)))
        for lam in lambdas:
            user_side, item_side = ease.sides(had, *spectrum, lam)
            scores.append(user_side @ item_side.T)
        z = np.stack([_standardised(s.astype(np.float64)) for s in scores], 1)  # (users, components, items)
        seen = had.toarray().astype(bool)
        z[np.broadcast_to(seen[:, None, :], z.shape)] = -np.inf
        parts.append(_pooled(z, t))
    z, valid, relevant, total = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    asked = total > 0
    z, valid, relevant, total = z[asked], valid[asked], relevant[asked], total[asked]
    if not len(total):
        return None
    k = top_k(data.n_items)
    text, texts = next(iter(sides), None), {}
    if len(sides) > 1:  # catalog words, with the reviews, or text vectors: whichever ranks best alone stays
        z, components, best, alone_figures = _best_alone(z, valid, relevant, total, components, "lexical_weight",
                                                        len(sides), k)
        text, texts = list(sides)[best], dict(zip(sides, alone_figures, strict=True))
    lam = None
    if lambdas:  # EASE's λ: the one that ranks best alone; the others leave the candidates
        first = components.index(f"ease@{lambdas[0]:g}")
        z, components, best, _ = _best_alone(z, valid, relevant, total, components, components[first], len(lambdas),
                                             k)
        components[first] = "ease_weight"
        lam = lambdas[best]
    incumbent = {"neighbourhood_weight": p.neighbourhood_weight, "lexical_weight": p.lexical_weight,
                 "popularity_weight": p.popularity_weight, "ease_weight": p.ease_weight}
    off = dict.fromkeys(incumbent, 0.0)
    alone = {"factors": off}
    if e is not None:
        alone["item_knn"] = {**off, "neighbourhood_weight": ALONE}
    if text is not None:
        alone[TEXT_PEERS[text]] = {**off, "lexical_weight": ALONE}
    alone["popularity"] = {**off, "popularity_weight": ALONE}
    if lam is not None:
        alone["ease"] = {**off, "ease_weight": ALONE}
    grid = {n: v for n, v in NEXT_GRID.items() if n in components}
    fixed = {n: 0.0 for n in NEXT_GRID if n not in components}
    choice = _choose(z, valid, relevant, total, components, incumbent, grid, alone, {"factors": 1.0, **fixed}, k)
    choice.weights = {**fixed, **choice.weights}
    if texts:  # each text the lexical term could read, alone: the peers that left the blends stay visible
        choice.evidence["lexical_text"] = text
        choice.figures |= {TEXT_PEERS[t]: f for t, f in texts.items() if t != text}
    if text is not None and choice.weights.get("lexical_weight"):
        choice.weights["lexical_text"] = text
    if lam is not None:
        choice.evidence["ease_lambda"] = lam  # EASE's λ on this shop, served only where EASE has weight
        if choice.weights.get("ease_weight"):
            choice.weights["ease_lambda"] = lam
    return choice


def _lexical_sides(data: TrainData, fit_rows: np.ndarray, p: TrainParams) -> dict[str, np.ndarray]:
    """The item sides the lexical term can read, by ``lexical_text``: the catalog words' LSA, that of the words
    with the fit's own rows' review texts (no held-out review is read), and the catalog text vectors' principal
    coordinates (where they were read without reviews)."""
    sides = {"catalog": content.item_side(data.item_words, p.content_rank, p.seed) if data.item_words else None}
    docs = lexical.documents(data, fit_rows) if sides["catalog"] is not None else None
    sides["reviews"] = content.lsa_of(docs, p.content_rank, p.seed) if docs is not None else None
    sides["vectors"] = content.side(data, "vectors", p.content_rank, p.seed)
    return {text: side for text, side in sides.items() if side is not None}


def _best_alone(z: np.ndarray, valid, relevant, total, components: list[str], first: str, count: int, k: int
                ) -> tuple[np.ndarray, list[str], int, list[float]]:
    """Of the ``count`` variants of one component from ``first`` on (a term's documents, EASE's λ), the one
    that ranks best alone stays in its place under the name ``first`` (ties: the earlier); the others leave.
    Returns the components' scores and names without them, which variant stayed, and each one's figure alone."""
    at = components.index(first)
    unit = np.eye(len(components))
    figures = [float(_recall(z, valid, relevant, total, unit[at + n], k).mean()) for n in range(count)]
    best = int(np.argmax(figures))
    keep = [c for c in range(len(components)) if not at <= c < at + count or c == at + best]
    names = [components[c] for c in keep]
    names[at] = first
    return z[:, keep], names, best, [round(f, 5) for f in figures]


def _pooled(z: np.ndarray, truth: sp.csr_matrix):
    """Each user's pool (the union of every component's top POOL unseen items), the components' scores on
    it, which entries are real (not repeats) and which are the user's held-out items (``truth``: users x
    items)."""
    n = z.shape[2]
    take = min(POOL, n)
    pool = np.concatenate([np.argpartition(-z[:, c], take - 1, axis=1)[:, :take] for c in range(z.shape[1])], 1)
    pool.sort(1)
    valid = np.ones(pool.shape, bool)
    valid[:, 1:] = pool[:, 1:] != pool[:, :-1]
    gathered = np.stack([np.take_along_axis(z[:, c], pool, 1) for c in range(z.shape[1])], 1)
    valid &= np.isfinite(gathered).all(1)
    gathered[~np.isfinite(gathered)] = 0.0
    truth = truth.toarray().astype(bool)
    held = np.take_along_axis(truth, pool, 1)
    total = (truth & np.isfinite(z[:, 0])).sum(1)  # held-out items the user had not had before
    return gathered, valid, valid & held, total


def new_items(data: TrainData, fit_rows: np.ndarray, items: np.ndarray, factors: Factors,
              p: TrainParams) -> Choice | None:
    """The new-items blend: the carved ``items`` ranked among themselves for each user who had them (and has
    other events to know them by), by the validation fit's text map (``factors``: the items were never in
    its events) and by the content term: TF-IDF of their catalog words, or their catalog text vectors (dense
    text similarity), whichever ranks better alone."""
    if len(items) < 5 or data.n_items > MAX_CATALOG:
        return None
    held = np.ones(len(data.users), bool)
    held[fit_rows] = False
    held &= np.isin(data.items, items)
    x = terms.binary(data, fit_rows)
    position = np.full(data.n_items, -1)
    position[items] = np.arange(len(items))
    relevant_all = np.zeros((data.n_users, len(items)), bool)
    relevant_all[data.users[held], position[data.items[held]]] = True
    users = np.flatnonzero(relevant_all.any(1) & (np.asarray(x.sum(1)).ravel() > 0))
    sides = {text: side for text in ("catalog", "vectors")
             if (side := content.side(data, text, p.content_rank, p.seed)) is not None}
    if len(users) < 5 or not sides:
        return None
    users = np.random.default_rng(p.seed).permutation(users)[:2000]
    had = x[users]
    mapped = factors.user_factors[users] @ factors.item_factors[items].T + factors.item_bias[items]
    z = [_standardised(mapped.astype(np.float64))]
    for side in sides.values():
        profile = np.asarray(had @ side)
        profile /= np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-12)
        z.append(_standardised(profile @ side[items].T))
    z = np.stack(z, 1)
    relevant = relevant_all[users]
    valid, total = np.ones(z[:, 0].shape, bool), relevant.sum(1)
    k = top_k(len(items))
    components = ["text_map_weight", "content_weight", *(f"content@{text}" for text in list(sides)[1:])]
    text, texts = next(iter(sides)), {}
    if len(sides) > 1:  # catalog words or text vectors: whichever ranks better alone stays
        z, components, best, alone_figures = _best_alone(z, valid, relevant, total, components, "content_weight",
                                                        len(sides), k)
        text, texts = list(sides)[best], dict(zip(sides, alone_figures, strict=True))
    incumbent = {"text_map_weight": p.text_map_weight,
                 "content_weight": content.unchosen_weight(data, p, fit_rows)}  # what serves without a choice
    alone = {"text_map": {"text_map_weight": 1.0, "content_weight": 0.0},
             TEXT_PEERS[text]: {"text_map_weight": 0.0, "content_weight": 1.0}}
    choice = _choose(z, valid, relevant, total, components, incumbent, NEW_GRID, alone, {}, k)
    if texts:
        choice.evidence["content_text"] = text
        choice.figures |= {TEXT_PEERS[t]: f for t, f in texts.items() if t != text}
    if choice.weights.get("content_weight"):
        choice.weights["content_text"] = text
    return choice
