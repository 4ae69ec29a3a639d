"""Users with a handful of events: "which established users is this visitor like?"

A factor vector fitted to three events is mostly noise, and its top-k loses to plain popularity (P4). Instead a
few-event user gets the training histories of established users (the *references*), each weighted by how close
their profile texts are and how likely the model finds the visitor's events under the reference's factors:

    score(i) = Σ_r w_r [r has an event on i],   w_r ∝ exp(BETA · cos(profile, profile_r)) · P(events | p_r)^TAU

a posterior over "who is this" that tends to popularity among similar users when little is known. TAU and BETA
were chosen on a validation split carved from the P4 training data by the P4 rule (``scripts/analyse_p4.py``),
never on its test users. Items none of the similar users had (new ones, rare ones) follow, in the model's
order (``ranked``). The same functions serve requests and the evaluation; the trainer chooses the references
(``app.trainer.few_events.references``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import csc_matrix, csr_matrix
from scipy.special import expit

TAU = 0.05  # weight of the events' log-likelihood: small, three events say little about a 64-d vector
BETA = 10.0  # sharpness of the profile similarity
MIN_EVENTS = 10  # a reference user has at least this many training items
MIN_REFERENCES = 100  # fewer established users than this say too little: the factors rank everyone
MAX_REFERENCES = 5_000  # a random sample above this: every request reads them all (docs/serving.md)
NORMALISER_ITEMS = 20_000  # the softmax normaliser over a fixed sample of items above this
SMOOTHING = 1e-3  # share of uniform weight over the references: ties go to what more of them have


@dataclass(frozen=True)
class References:
    users: np.ndarray  # (R,) model positions of the reference users
    queries: np.ndarray  # (R, k + 1): [p_r, 1], so that item_vectors @ query is the logit
    log_norm: np.ndarray  # (R,) log Σ_i exp(logit): the softmax normaliser over the catalog
    profiles: np.ndarray | None  # (R, d) unit profile text vectors; zero rows for users without text
    history: csr_matrix  # (R, n_items): 1 where the reference has a training event

    @cached_property
    def history_t(self) -> csc_matrix:
        """The histories item-major, built once: the weights go through them on every request."""
        return self.history.T

    @cached_property
    def by_item(self) -> csc_matrix:
        """The histories with each item's column at hand (``cooccurrence`` reads the visitor's items')."""
        return self.history.tocsc()

    @cached_property
    def inverse_root_counts(self) -> np.ndarray:
        """1 / sqrt(how many references had each item): the cosine's norms (0 for an item none of them had)."""
        counts = np.asarray(self.history.sum(0)).ravel()
        return np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0).astype(np.float32)


def histories(users: np.ndarray, items: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Every user's training items as CSR (indptr, items), in the order the events came."""
    order = np.argsort(users, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))])
    return indptr.astype(np.int64), items[order].astype(np.int32)


def pick(indptr: np.ndarray, seed: int = 0) -> np.ndarray:
    """Model positions of the reference users: those with >= MIN_EVENTS training items, a fixed random sample
    of MAX_REFERENCES of them when there are more; none when there are fewer than MIN_REFERENCES."""
    users = np.flatnonzero(np.diff(indptr) >= MIN_EVENTS)
    if len(users) < MIN_REFERENCES:
        return np.zeros(0, np.int64)
    if len(users) > MAX_REFERENCES:
        users = np.sort(np.random.default_rng(seed).choice(users, MAX_REFERENCES, replace=False))
    return users


def unit_profiles(text: np.ndarray | None, has_text: np.ndarray | None) -> np.ndarray | None:
    """Text vectors scaled to unit length; rows without text stay zero (no pull either way)."""
    if text is None:
        return None
    norms = np.linalg.norm(text, axis=1, keepdims=True)
    out = np.where(norms > 1e-8, text / np.maximum(norms, 1e-8), 0.0).astype(np.float32)
    if has_text is not None:
        out[~has_text] = 0.0
    return out


def build(users: np.ndarray, user_factors: np.ndarray, item_vectors: np.ndarray, indptr: np.ndarray,
          items: np.ndarray, profiles: np.ndarray | None, log_norm: np.ndarray | None = None) -> References:
    """``item_vectors`` are the serving vectors [q_i, b_i]; ``indptr``/``items`` every user's training items;
    ``profiles`` the references' unit profile vectors (rows aligned with ``users``); ``log_norm`` their softmax
    normalisers as the version stored them (computed here when it holds none)."""
    n_items = len(item_vectors)
    queries = reference_queries(users, user_factors)
    if log_norm is None:
        log_norm = normalisers(queries, item_vectors)
    starts, ends = indptr[users], indptr[users + 1]
    columns = np.concatenate([items[s:e] for s, e in zip(starts, ends, strict=True)]) if len(users) else \
        np.zeros(0, np.int64)
    row_ptr = np.concatenate([[0], np.cumsum(ends - starts)])
    history = csr_matrix((np.ones(len(columns), np.float32), columns, row_ptr), shape=(len(users), n_items))
    history.sum_duplicates()
    history.data[:] = 1.0
    return References(users, queries, np.asarray(log_norm, np.float32), profiles, history)


def normaliser_items(item_vectors: np.ndarray) -> tuple[np.ndarray, float]:
    """The items a softmax normaliser sums over: the catalog, or a fixed sample of NORMALISER_ITEMS, with the
    log of the factor that scales the sample's sum up to the catalog's (the references' and fold-ins')."""
    n_items = len(item_vectors)
    if n_items <= NORMALISER_ITEMS:
        return item_vectors, 0.0
    chosen = np.sort(np.random.default_rng(0).choice(n_items, NORMALISER_ITEMS, replace=False))
    return item_vectors[chosen], float(np.log(n_items / NORMALISER_ITEMS))


def normalisers(queries: np.ndarray, item_vectors: np.ndarray) -> np.ndarray:
    """log Σ_i exp(q_r · v_i) for each reference: over the catalog, or a fixed sample of NORMALISER_ITEMS
    scaled up. The training job stores them with the version: at a million items this is seconds of work."""
    sample, log_scale = normaliser_items(item_vectors)
    log_norm = np.empty(len(queries), np.float64)
    for start in range(0, len(queries), 1024):
        logits = queries[start: start + 1024].astype(np.float64) @ sample.T.astype(np.float64)
        top = logits.max(1, keepdims=True)
        log_norm[start: start + 1024] = (top + np.log(np.exp(logits - top).sum(1, keepdims=True)))[:, 0] + log_scale
    return log_norm


def reference_queries(users: np.ndarray, user_factors: np.ndarray) -> np.ndarray:
    """[p_r, 1] for each reference: ``item_vectors @ query`` is the model's logit."""
    return np.hstack([user_factors[users], np.ones((len(users), 1))]).astype(np.float32)


def likeness(refs: References, profile: np.ndarray | None, beta: float = BETA) -> np.ndarray | None:
    """BETA · cos(profile, profile_r) for each reference (float32): the profile text's share of the log
    weights; None without references' profiles or a usable profile. The larger of the two products a visitor
    costs (R x d: 7.7 MB at 5,000 x 384, mostly read from memory); it depends on the profile alone, so
    ``app.recommender.users`` keeps it per visitor across their events."""
    if profile is None or refs.profiles is None or not len(refs.users):
        return None
    norm = float(np.linalg.norm(profile))
    if norm <= 1e-8:
        return None
    return refs.profiles @ (profile * (beta / norm)).astype(np.float32)


def weights(refs: References, item_vectors: np.ndarray, event_items: np.ndarray, profile: np.ndarray | None,
            exclude_user: int | None = None, tau: float = TAU, beta: float = BETA,
            liked: np.ndarray | None = None) -> np.ndarray | None:
    """The posterior over "who is this" (float32, summing to 1 over the references) for a visitor with these
    events (model item positions) and this profile text vector (raw; None when there is none); None when there
    are no references, or the only one is the visitor themself. ``exclude_user``: the visitor's own model
    position, which must not count as their own neighbour. ``liked``: the profile's ``likeness``, when the
    caller kept it (then ``profile`` is not read).

    Two products over arrays the version holds: the events' summed vector against the references' queries
    (Σ_e v_e · q_r is the summed logit) and the profile against their profiles (``likeness``)."""
    if not len(refs.users):
        return None
    log_w = np.zeros(len(refs.users), np.float32)
    if len(event_items):
        summed = item_vectors[event_items].sum(0, dtype=np.float64).astype(np.float32)
        log_w += tau * (refs.queries @ summed - len(event_items) * refs.log_norm)
    if liked is None:
        liked = likeness(refs, profile, beta)
    if liked is not None:
        log_w += liked
    uniform = np.full(len(log_w), 1.0 / max(len(log_w), 1), np.float32)
    if exclude_user is not None and (own := refs.users == exclude_user).any():
        if own.all():
            return None
        log_w[own] = -np.inf
        uniform = np.where(own, 0.0, 1.0 / (~own).sum()).astype(np.float32)
    w = np.exp(log_w - log_w.max())
    w *= (1 - SMOOTHING) / w.sum()
    w += SMOOTHING * uniform
    return w


def scores(refs: References, item_vectors: np.ndarray, event_items: np.ndarray, profile: np.ndarray | None,
           exclude_user: int | None = None, tau: float = TAU, beta: float = BETA,
           at: np.ndarray | None = None) -> np.ndarray:
    """Scores (float32) over the model's items (or only those at the positions ``at``) for a visitor: the
    ``weights`` through the references' histories (sparse, one pass over the catalog, or over ``at``'s
    columns alone)."""
    w = weights(refs, item_vectors, event_items, profile, exclude_user, tau, beta)
    if w is None:
        return np.zeros(refs.history.shape[1] if at is None else len(at), np.float32)
    return through_histories(refs, w, at)


def through_histories(refs: References, w: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """Σ_r w_r [r had i] for every item, or for the items at positions ``at`` (a rank request's candidates:
    their columns alone, not a pass over the catalog)."""
    if at is None:
        return refs.history_t @ w
    return column_sums(refs.by_item, w, at)


def column_sums(by_item: csc_matrix, w: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Σ_r w_r [r had i] for the columns ``at`` of a 0/1 matrix: the rows of each column read from its CSC
    arrays directly. For a hundred candidates this is a few µs of work; scipy's column indexing builds a new
    matrix first (0.3 ms a request, docs/serving.md)."""
    rows, owner = _column_rows(by_item, at)
    return np.bincount(owner, weights=w[rows], minlength=len(at)).astype(np.float32)


def _column_rows(by_item: csc_matrix, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the columns ``at`` of a CSC matrix, one run after another, and which of ``at`` each came
    from."""
    at = np.asarray(at, np.int64)
    starts, lengths = by_item.indptr[at], by_item.indptr[at + 1] - by_item.indptr[at]
    offsets = np.cumsum(lengths) - lengths  # where each column's rows begin in the gathered run
    rows = by_item.indices[np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())]
    return rows, np.repeat(np.arange(len(at)), lengths)


def taste(refs: References, w: np.ndarray) -> np.ndarray:
    """Σ_r w_r p_r: the posterior mean of the visitor's factor vector over the references, the order a
    few-event visitor gets for the items none of the similar users had. A fold-in fits a vector to three
    events (mostly noise, see the module's docstring) by an optimisation per visitor that cost 10-20 ms at
    100k items; this reads one product over the references (docs/serving.md, "Visitors' candidates")."""
    return (w @ refs.queries)[:-1].astype(np.float32)  # the queries' last column is the constant 1


def cooccurrence(refs: References, event_items: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
    """Item-kNN over the references' histories: Σ over the visitor's items i of cos(i, j), the cosine of the
    two items' columns (who had them). One sparse pass like ``scores``; the new-shoppers carve chooses between
    them per shop (``app.trainer.few_events``)."""
    items = np.unique(np.asarray(event_items, np.int64))
    if not len(items):
        return np.zeros(refs.history.shape[1] if at is None else len(at), np.float32)
    inverse = refs.inverse_root_counts
    rows, owner = _column_rows(refs.by_item, items)  # per reference: their share of the visitor's items
    w = np.bincount(rows, weights=inverse[items][owner], minlength=refs.history.shape[0])
    return through_histories(refs, w.astype(np.float32), at) * (inverse if at is None else inverse[at])


STRATEGIES = ("neighbours", "item_knn", "popularity", "factors")  # chosen per shop: app.trainer.few_events


def first_scores(strategy: str, refs: References, item_vectors: np.ndarray, event_items: np.ndarray,
                 profile: np.ndarray | None, popularity: np.ndarray, exclude_user: int | None = None,
                 at: np.ndarray | None = None) -> np.ndarray | None:
    """What ranks a few-event visitor's list first under the version's ``strategy`` (items scored 0 follow in
    the model's order, ``ranked``): the similar references' items (``scores``), the items co-occurring with
    theirs (``cooccurrence``) or the most had (``popularity``, event counts over the model's items); None for
    ``factors``: the visitor's own factor vector ranks them. ``at``: the scores of those positions only (a rank
    request's candidates, all inside the model)."""
    if strategy == "factors":
        return None
    if strategy == "item_knn":
        return cooccurrence(refs, event_items, at)
    if strategy == "popularity":
        return np.asarray(popularity if at is None else popularity[at], np.float32)
    return scores(refs, item_vectors, event_items, profile, exclude_user, at=at)


def ranked(mixture: np.ndarray, model_scores: np.ndarray) -> np.ndarray:
    """One score order: items some similar user had come first, by ``1 + mixture``; items none of them had
    (new ones, rare ones) after them, by the model's own score squashed into (0, 1)."""
    return np.where(mixture > 0, 1.0 + mixture, expit(model_scores))
