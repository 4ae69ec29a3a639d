"""What ranks a user's list: their trained factors; a fold-in of the events newer than the model (cached until
their newest event changes); the text map, for a visitor known only by a profile; or, with 1 to
``few_events_max`` events, the version's few-event scores (``neighbours.first_scores``) first and their
factors after them. The answers (``service``) ask this module; it reads the store only through ``reads``."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection

from app.core.config import Settings
from app.model import neighbours
from app.model.factors import DEFAULT_EVENT_WEIGHTS
from app.model.serving import ServingModel
from app.recommender import ranking, reads
from app.recommender.answers import AnswerCache
from app.recommender.state import State

FOLD_CACHE = 100_000  # users whose fold-in is kept
LIKENESS_USERS = 1_600  # visitors whose profile likeness is kept: 32 MB at 5,000 references (MAX_REFERENCES)


@dataclass(frozen=True)
class FewEvents:
    """A few-event user's scores by the version's few-event strategy, and the posterior over the references
    (``neighbours.weights``; None where the user is the only one) that places the rest for a visitor."""
    scores: np.ndarray
    weights: np.ndarray | None


class Tastes:
    """Users' vectors for one served state at a time (``clear`` when the version changes)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()  # the fold-in cache; never held across a refresh
        self._folds: OrderedDict[str, tuple[tuple, np.ndarray]] = OrderedDict()
        self._liked = AnswerCache(LIKENESS_USERS)  # (user, version, profile bytes) -> neighbours.likeness

    def clear(self) -> None:
        with self._lock:
            self._folds.clear()
        self._liked.clear()

    def vector(self, conn: Connection, state: State, user_id: str | None, events: list
               ) -> tuple[np.ndarray | None, int | None, str]:
        """(vector, model position, strategy). Known users get their factors, with ``events`` (those newer
        than the model) folded in; unknown users with events are folded in from the prior; users known only
        by their profile text are mapped through the text map; anyone else gets popularity."""
        model = state.model
        if model is None:
            return None, None, "popular"
        pos = model.user_positions.get(user_id)
        if pos is not None or events:
            return self.factors_of(state, user_id, pos, events), pos, "personalized"
        text = reads.user_text_vector(conn, model, user_id)
        if text is not None:
            f = model.factors
            if f.user_map is not None:
                return to_user_scale(model, f.user_from_text(text[None])[0]), None, "text"
            if f.item_map is not None:  # no users' text to learn from: read the profile like a query
                return to_user_scale(model, f.item_from_text(text[None])[0][0]), None, "text"
        return None, None, "popular"

    def few_events(self, conn: Connection, state: State, user_id: str | None, events: list,
                   at: np.ndarray | None = None) -> FewEvents | None:
        """Scores over the model's items (or those at the positions ``at``) for a user with 1 to
        ``few_events_max`` events, by the version's few-event strategy (``neighbours.first_scores``; by default
        the established users they resemble): a few events fit a factor vector too loosely to rank by. None
        for anyone else, and where the shop's new-users carve chose the factors."""
        model = state.model
        if model is None or model.references is None:
            return None
        pos = model.user_positions.get(user_id)
        trained = model.trained
        held = trained.seen_items[trained.seen_indptr[pos]: trained.seen_indptr[pos + 1]] if pos is not None else []
        if not 0 < len(held) + len(events) <= self.settings.few_events_max:
            return None
        new = [p for e in events if (p := state.catalog.positions.get(e.item_id)) is not None and p < model.n_items]
        items = np.concatenate([np.asarray(held, np.int64), np.array(new, np.int64)])
        strategy = model.trained.few_events  # chosen per shop on its new-users carve
        refs = model.references
        if strategy == "neighbours":
            profile = reads.user_text_vector(conn, model, user_id) if user_id else None
            w = neighbours.weights(refs, model.item_vectors, items, profile, pos,
                                   liked=self.likeness(model, user_id, profile))
            first = neighbours.through_histories(refs, w, at) if w is not None else \
                np.zeros(model.n_items if at is None else len(at), np.float32)
            return FewEvents(first, w)
        first = neighbours.first_scores(strategy, refs, model.item_vectors, items, None,
                                        state.popularity[: model.n_items], pos, at)
        return None if first is None else FewEvents(first, neighbours.weights(refs, model.item_vectors, items, None,
                                                                              pos))

    def likeness(self, model: ServingModel, user_id: str | None, profile: np.ndarray | None) -> np.ndarray | None:
        """The visitor's ``neighbours.likeness`` against the version's references, kept per user while the
        version and their profile vector stay the same (a re-encoded profile is computed afresh): otherwise
        each of a visitor's lists, one after each of their events, reads the references' profiles again. The
        most recently asked ``LIKENESS_USERS`` are kept (docs/serving.md, "Eighth round")."""
        refs = model.references
        if profile is None or user_id is None or refs.profiles is None:
            return neighbours.likeness(refs, profile)
        key = (user_id, model.version, profile.tobytes())
        liked = self._liked.get(key)
        if liked is None:
            liked = neighbours.likeness(refs, profile)
            self._liked.put(key, liked)
        return liked

    def tail(self, state: State, user_id: str | None, pos: int | None, events: list, few: FewEvents) -> np.ndarray:
        """The vector that orders a few-event user's items none of their similar users had: for a visitor the
        model does not know, the posterior mean over the references (``neighbours.taste``: one product, where
        a fold-in is an optimisation per visitor); for a known user, their factors with the new events folded
        in (their trained vector says more than a handful of references do)."""
        if pos is None and few.weights is not None:
            return neighbours.taste(state.model.references, few.weights)
        return self.factors_of(state, user_id, pos, events)

    def factors_of(self, state: State, user_id: str | None, pos: int | None, events: list) -> np.ndarray:
        """A known user's trained factors, or a fold-in of their new events from them (from the average user
        for someone the model does not know). Few-event users need it only for items none of their similar
        users had: a fold-in costs far more than the neighbours do."""
        model = state.model
        if not events:
            return model.factors.user_factors[pos]
        prior = model.factors.user_factors[pos] if pos is not None else model.mean_user
        # A visitor known only by this session is kept under the session's name (its events' ids carry it).
        return self._fold_in(user_id if user_id is not None else f"\x00{events[-1].id}", state, prior, events)

    def _fold_in(self, user_id: str, state: State, prior: np.ndarray, events: list) -> np.ndarray:
        """Fit the user's vector to their recent events on fixed item factors, pulled towards the prior (their
        trained vector, or the average user's): ridge least squares on the ratings for a rating model, a
        few L-BFGS steps of the training softmax for a ranking model. Cached until the newest event changes."""
        model = state.model
        key = (model.version, events[0].id, len(events))
        with self._lock:
            hit = self._folds.get(user_id)
            if hit is not None and hit[0] == key:
                self._folds.move_to_end(user_id)
                return hit[1]
        f = model.factors
        rows = [(v, e) for e in events if (v := ranking.item_vector(state, state.catalog.positions.get(e.item_id)))
                is not None]
        if not rows:
            return prior
        q = np.array([v[:-1] for v, _ in rows], np.float64)
        b = np.array([v[-1] for v, _ in rows])
        w = np.array([DEFAULT_EVENT_WEIGHTS.get(e.type, 1.0) for _, e in rows])
        lam = self.settings.fold_in_reg
        if f.objective == "rating":
            t = np.array([(e.value if e.type == "rating" and e.value is not None else model.trained.positive_score)
                          for _, e in rows]) - f.mu - b
            a = (q * w[:, None]).T @ q + lam * w.mean() * np.eye(q.shape[1])
            p = prior + np.linalg.solve(a, (q * w[:, None]).T @ (t - q @ prior))
        else:
            p = ranking.softmax_fold_in(prior.astype(np.float64), q, b, w / w.sum(), *model.fold_in_items, lam)
        p = p.astype(np.float32)
        with self._lock:
            self._folds[user_id] = (key, p)
            while len(self._folds) > FOLD_CACHE:
                self._folds.popitem(last=False)
        return p


def to_user_scale(model: ServingModel, v: np.ndarray) -> np.ndarray:
    """A vector from the text map at the trained users' mean length."""
    norm = float(np.linalg.norm(v))
    return (v * (model.user_norm / norm) if norm > 1e-8 else v).astype(np.float32)


def seen(state: State, user_pos: int | None, events: list) -> set[int]:
    """Catalog positions of what the user had: their events since the model and its seen-items table."""
    out = {state.catalog.positions[e.item_id] for e in events if e.item_id in state.catalog.positions}
    trained = state.model.trained if state.model else None
    if trained is not None and user_pos is not None and trained.seen_indptr is not None:
        out.update(trained.seen_items[trained.seen_indptr[user_pos]: trained.seen_indptr[user_pos + 1]].tolist())
    return out


def top_few_events(state: State, first: np.ndarray, eligible: np.ndarray, k: int, pos: int | None,
                   by_factors: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]):
    """Top k in ``neighbours.ranked`` order: the eligible items the few-event scores ``first`` reach, by them
    (ties by popularity), then, if fewer than k, the rest by ``by_factors(eligible, n)`` (the user's factors)."""
    masked = first * eligible[: len(first)]  # the one pass over the catalog: ineligible items score 0
    candidates = ranking.largest(masked, min(4 * k, len(masked)))
    candidates = candidates[masked[candidates] > 0]
    s = masked[candidates].astype(np.float64)
    order = np.lexsort((candidates, -state.popularity[candidates], -s))[:k]
    positions, top = candidates[order], 1.0 + s[order]
    if len(positions) < k:
        rest = eligible.copy()
        rest[: len(first)] &= first <= 0
        more, model_scores = by_factors(rest, k - len(positions))
        squashed = neighbours.ranked(np.zeros(len(more)), model_scores + state.model.score_offset(pos))
        positions, top = np.concatenate([positions, more]), np.concatenate([top, squashed])
    return positions, top
