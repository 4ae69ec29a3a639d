"""The answers: a user's recommendations, ranked candidates, similar items, free-text queries.

Per request the store is read once: the serving epoch together with the user's latest events (by the
``(user_id, ts)`` index). Everything else is in memory, in the served ``State`` (``app.recommender.state``):
the model version, its FAISS indexes, the catalog view, popularity. A state older than the epoch read is
refreshed first, so a write acknowledged by any API process is in the next answer of every one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, literal, select
from sqlalchemy.orm import Session, sessionmaker

from app.context import features as context_features
from app.core.config import Settings
from app.recommender import neighbours, ranking
from app.recommender.answers import AnswerCache
from app.recommender.serving import ServingModel
from app.recommender.state import EPOCH, Served, State
from app.store.models import Embedding, Interaction, Item, ServingEpoch, User
from app.trainer.types import DEFAULT_EVENT_WEIGHTS

RECENT_EVENTS = 500


def _epoch_and_events(since: bool):
    """The serving epoch and the user's latest events in one round trip: one row even without events."""
    events = select(Interaction.id, Interaction.item_id, Interaction.type, Interaction.value, Interaction.ts) \
        .where(Interaction.user_id == bindparam("user_id"))
    if since:
        events = events.where(Interaction.received_at > bindparam("since"))
    events = events.order_by(Interaction.ts.desc(), Interaction.id.desc()).limit(RECENT_EVENTS).subquery()
    return (select(ServingEpoch.epoch, events.c.id, events.c.item_id, events.c.type, events.c.value)
            .select_from(ServingEpoch).outerjoin(events, literal(True)).where(ServingEpoch.id == 1)
            .order_by(events.c.ts.desc(), events.c.id.desc()))


# The request path's reads, built once: building a statement costs more than SQLite takes to run it.
_EVENTS = _epoch_and_events(since=False)
_EVENTS_SINCE = _epoch_and_events(since=True)
_USER_TEXT = select(Embedding.vector).where(Embedding.owner_kind == "user", Embedding.owner_id == bindparam("user_id"),
                                            Embedding.model == bindparam("model"))
_PROFILE = select(User.profile_text).where(User.user_id == bindparam("user_id"))
CONTEXT_POOL = 100  # with a context, the top max(4k, this) are re-ranked by it
_LIVE_ITEM = select(Item.item_id).where(Item.item_id == bindparam("item_id"), Item.deleted_at.is_(None))


@dataclass
class Answer:
    model_version: str | None
    strategy: str
    items: list[dict[str, Any]]
    unknown: list[str] | None = None


class Recommender:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, reads: Engine | None = None) -> None:
        self.engine = reads or sessions.kw["bind"]  # requests: a pooled Core connection, no ORM session
        self.settings = settings
        self.served = Served(sessions, settings, on_model_change=self._clear_fold_cache)
        self._cache_lock = threading.Lock()  # the fold-in cache; never held across a refresh
        self._fold_cache: OrderedDict[str, tuple[tuple, np.ndarray]] = OrderedDict()
        self.answers = AnswerCache(settings.answer_cache)
        self.encoder = None  # the query encoder: see query_encoder
        self._encoder_lock = threading.Lock()

    @property
    def state(self) -> State | None:
        return self.served.state

    def refresh(self) -> State:
        return self.served.refresh()

    def fresh_state(self) -> State:
        """The served state, at least as new as the store's serving epoch (one short read)."""
        with self.engine.connect() as conn:
            state, _ = self._read(conn, None)
        return state

    def query_encoder(self):
        """The encoder of free-text queries, loaded once: by the background refresh as soon as a model is
        served, or by the first query that finds it missing (a few seconds, once, rather than a 503). Queries
        in flight together share a forward pass (``app.encoder.batcher``)."""
        if self.encoder is None:
            with self._encoder_lock:
                if self.encoder is None:
                    from app.encoder.batcher import QueryBatcher
                    from app.encoder.model import Encoder

                    s = self.settings
                    self.encoder = QueryBatcher(Encoder(s.encoder_model, s.device, s.encoder_max_tokens,
                                                        s.encoder_batch_size))
        return self.encoder

    def _clear_fold_cache(self) -> None:
        with self._cache_lock:
            self._fold_cache.clear()
        self.answers.clear()  # unreachable now (another generation): free them

    def _read(self, conn: Connection, user_id: str | None) -> tuple[State, list]:
        """The served state, at least as new as the store's epoch, and the user's events it has not seen."""
        state = self.served.current()
        if user_id is None:
            return self.served.at_least(conn.scalar(EPOCH) or 0), []
        epoch, events = self._events(conn, state, user_id)
        if epoch > state.epoch:
            fresh = self.served.at_least(epoch)
            if fresh.model is not state.model:  # another version: another "since"
                epoch, events = self._events(conn, fresh, user_id)
            state = fresh
        return state, events

    # ------------------------------------------------------------ users

    @staticmethod
    def _events(conn: Connection, state: State, user_id: str) -> tuple[int, list]:
        """(serving epoch, the user's latest events the model has not seen: all of them before any model):
        what training already holds is in the model's factors and its seen-items table."""
        since = state.model.trained_until if state.model is not None else None
        if since is None:
            rows = conn.execute(_EVENTS, {"user_id": user_id}).all()
        else:
            rows = conn.execute(_EVENTS_SINCE, {"user_id": user_id, "since": since}).all()
        return (rows[0].epoch or 0) if rows else 0, [r for r in rows if r.id is not None]

    def _seen(self, state: State, user_pos: int | None, events: list) -> set[int]:
        seen = {state.catalog.positions[e.item_id] for e in events if e.item_id in state.catalog.positions}
        trained = state.model.trained if state.model else None
        if trained is not None and user_pos is not None and trained.seen_indptr is not None:
            seen.update(trained.seen_items[trained.seen_indptr[user_pos]: trained.seen_indptr[user_pos + 1]].tolist())
        return seen

    def user_vector(self, conn: Connection, state: State, user_id: str, events: list
                    ) -> tuple[np.ndarray | None, int | None, str]:
        """(vector, model position, strategy). Known users get their factors, with ``events`` (those newer
        than the model) folded in; unknown users with events are folded in from the prior; users known only
        by their profile text are mapped through the text map; anyone else gets popularity."""
        model = state.model
        if model is None:
            return None, None, "popular"
        pos = model.user_positions.get(user_id)
        if pos is not None or events:
            return self._factors_of(state, user_id, pos, events), pos, "personalized"
        text = self._user_text_vector(conn, model, user_id)
        if text is not None:
            f = model.factors
            if f.user_map is not None:
                return self._to_user_scale(model, f.user_from_text(text[None])[0]), None, "text"
            if f.item_map is not None:  # no users' text to learn from: read the profile like a query
                return self._to_user_scale(model, f.item_from_text(text[None])[0][0]), None, "text"
        return None, None, "popular"

    def _few_events_scores(self, conn: Connection, state: State, user_id: str, events: list) -> np.ndarray | None:
        """Scores over the model's items for a user with 1 to ``few_events_max`` events, by the version's
        few-event strategy (``neighbours.first_scores``; by default the established users they resemble): a few
        events fit a factor vector too loosely to rank by. None for anyone else, and where the shop's
        new-users carve chose the factors."""
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
        profile = self._user_text_vector(conn, model, user_id) if strategy == "neighbours" else None
        return neighbours.first_scores(strategy, model.references, model.item_vectors, items, profile,
                                       state.popularity[: model.n_items], pos)

    def _fold_in(self, user_id: str, state: State, prior: np.ndarray, events: list) -> np.ndarray:
        """Fit the user's vector to their recent events on fixed item factors, pulled towards the prior (their
        trained vector, or the average user's): ridge least squares on the ratings for a rating model, a
        few L-BFGS steps of the training softmax for a ranking model. Cached until the newest event changes."""
        model = state.model
        key = (model.version, events[0].id, len(events))
        with self._cache_lock:
            hit = self._fold_cache.get(user_id)
            if hit is not None and hit[0] == key:
                self._fold_cache.move_to_end(user_id)
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
        with self._cache_lock:
            self._fold_cache[user_id] = (key, p)
            while len(self._fold_cache) > 100_000:
                self._fold_cache.popitem(last=False)
        return p

    @staticmethod
    def _user_text_vector(conn: Connection, model: ServingModel, user_id: str) -> np.ndarray | None:
        blob = conn.scalar(_USER_TEXT, {"user_id": user_id, "model": model.trained.encoder_model})
        return None if blob is None else np.frombuffer(blob, dtype="<f4")

    @staticmethod
    def _to_user_scale(model: ServingModel, v: np.ndarray) -> np.ndarray:
        norm = float(np.linalg.norm(v))
        return (v * (model.user_norm / norm) if norm > 1e-8 else v).astype(np.float32)

    def taste(self, user_id: str | None) -> tuple[State, np.ndarray | None, set[int]]:
        """What a conversation mixes in, in one read: the served state, the user's vector (None for nobody or
        a visitor the model cannot place) and their seen items' positions."""
        with self.engine.connect() as conn:
            state, events = self._read(conn, user_id or None)
            vector, seen = None, set()
            if user_id:
                vector, pos, _ = self.user_vector(conn, state, user_id, events)
                seen = self._seen(state, pos, events)
        return state, vector, seen

    def text_query(self, model: ServingModel, text_vector: np.ndarray) -> np.ndarray:
        """A text vector (a query, or one moved by feedback) as a vector in user space, at the users' scale."""
        q, _ = model.factors.item_from_text(text_vector[None].astype(np.float32))
        return self._to_user_scale(model, q[0])

    # ------------------------------------------------------------ answers

    def recommend(self, user_id: str | None, k: int, exclude_seen: bool = True,
                  category: str | None = None, min_price: float | None = None, max_price: float | None = None,
                  query: str | None = None, context: dict | None = None, explain: bool = False) -> Answer:
        """The top k; ``context`` ({timestamp, location, device}) re-ranks the top max(4k, CONTEXT_POOL) by
        what the store showed of it (``app.context``); ``explain`` gives each item a ``because``."""
        dense, profile = None, None
        with self.engine.connect() as conn:
            state, events = self._read(conn, user_id or None)
            key = None
            if not (query or context or explain):  # the storefront's plain call: kept until anything it reads moves
                key = (id(self.settings), user_id, k, exclude_seen, category, min_price, max_price, state.epoch,
                       state.generation, events[0].id if events else None, len(events))
                kept = self.answers.get(key)
                if kept is not None and kept[1] in (None, state.popularity_generation):
                    return kept[0]
            if user_id:
                dense = None if query else self._few_events_scores(conn, state, user_id, events)
                if dense is None:
                    vector, pos, strategy = self.user_vector(conn, state, user_id, events)
                else:
                    vector, pos, strategy = None, state.model.user_positions.get(user_id), "personalized"
                if explain:
                    profile = conn.scalar(_PROFILE, {"user_id": user_id})
            else:
                vector, pos, strategy = None, None, "popular"
        if query and state.model is not None and state.model.factors.item_map is not None:
            query_vector = self._query_vector(state.model, query)
            vector = query_vector if vector is None else 0.5 * vector + 0.5 * query_vector
            strategy = "personalized" if strategy == "personalized" else "text"
        values = self._context_values(state, context)
        n = max(4 * k, CONTEXT_POOL) if values else k
        eligible = state.catalog.eligible(category, min_price, max_price)
        seen = self._seen(state, pos, events) if (events or pos is not None) else set()
        if exclude_seen and seen:
            eligible[list(seen)] = False
        if dense is not None:
            positions, scores = self._top_few_events(state, dense, user_id, pos, events, eligible, n)
            kind = "mixture"
        elif vector is None:
            positions, scores = ranking.popular(state, eligible, n)
            strategy, kind = "popular", "count"
        else:
            positions, scores = self._top_k(state, vector, eligible, n)
            scores, kind = scores + state.model.score_offset(pos), "logit"
        if values:
            positions, scores = state.model.trained.context.rerank(
                state.catalog, positions, scores, kind, values, self.settings.context_weight)
            positions, scores = positions[:k], scores[:k]
        items = ranking.listed(state, positions, scores)
        if explain:
            from app.recommender import explain as reasons  # lazily: it reads words with app.conversation's rules

            newest = [p for e in events if (p := state.catalog.positions.get(e.item_id)) is not None]
            seen_order = list(dict.fromkeys(newest + sorted(seen - set(newest))))  # the latest events first
            for item, reason in zip(items, reasons.because(state, positions, seen_order, pos, strategy, query, profile,
                                                           values, self.settings.context_weight), strict=True):
                item["because"] = reason
        answer = Answer(state.model.version if state.model else None, strategy, items)
        if key is not None:  # popular lists, and few-event ones (ties by popularity), last while popularity does
            reads_popularity = dense is not None or strategy == "popular"
            self.answers.put(key, (answer, state.popularity_generation if reads_popularity else None))
        return answer

    @staticmethod
    def _context_values(state: State, context: dict | None) -> dict[str, str]:
        """The request context's feature values the served version's context model knows (the rest change
        nothing): empty without a context, a model, or a context model."""
        if not context or state.model is None or state.model.trained.context is None:
            return {}
        return state.model.trained.context.known(context_features(**context))

    def _query_vector(self, model: ServingModel, query: str) -> np.ndarray:
        q, _ = model.factors.item_from_text(self.query_encoder().encode([query]))
        return self._to_user_scale(model, q[0])

    def _top_k(self, state: State, vector: np.ndarray, eligible: np.ndarray, k: int):
        query = np.append(vector, 1.0).astype(np.float32)
        return ranking.search(state, state.model.index, state.fresh_vectors, query, eligible, k)

    def _factors_of(self, state: State, user_id: str, pos: int | None, events: list) -> np.ndarray:
        """A known user's trained factors, or a fold-in of their new events from them (from the average user
        for someone the model does not know). Few-event users need it only for items none of their similar
        users had: a fold-in costs far more than the neighbours do."""
        model = state.model
        if not events:
            return model.factors.user_factors[pos]
        prior = model.factors.user_factors[pos] if pos is not None else model.mean_user
        return self._fold_in(user_id, state, prior, events)

    def _top_few_events(self, state: State, mixture: np.ndarray, user_id: str, pos: int | None, events: list,
                        eligible: np.ndarray, k: int):
        """Top k in ``neighbours.ranked`` order: the eligible items similar users had, by their mixture score
        (ties by popularity), then, if fewer than k, the rest by the user's factor score."""
        masked = mixture * eligible[: len(mixture)]  # the one pass over the catalog: ineligible items score 0
        candidates = ranking.largest(masked, min(4 * k, len(masked)))
        candidates = candidates[masked[candidates] > 0]
        s = masked[candidates].astype(np.float64)
        order = np.lexsort((candidates, -state.popularity[candidates], -s))[:k]
        positions, top = candidates[order], 1.0 + s[order]
        if len(positions) < k:
            vector = self._factors_of(state, user_id, pos, events)
            rest = eligible.copy()
            rest[: len(mixture)] &= mixture <= 0
            more, model_scores = self._top_k(state, vector, rest, k - len(positions))
            squashed = neighbours.ranked(np.zeros(len(more)), model_scores + state.model.score_offset(pos))
            positions, top = np.concatenate([positions, more]), np.concatenate([top, squashed])
        return positions, top

    def rank(self, user_id: str, item_ids: list[str]) -> Answer:
        """Every known candidate, best first; ids the catalog does not know are listed under ``unknown``."""
        with self.engine.connect() as conn:
            state, events = self._read(conn, user_id)
            dense = self._few_events_scores(conn, state, user_id, events)
            if dense is None:
                vector, pos, strategy = self.user_vector(conn, state, user_id, events)
            else:
                vector, pos, strategy = None, state.model.user_positions.get(user_id), "personalized"
        known, unknown = [], []
        for item_id in dict.fromkeys(item_ids):
            p = state.catalog.positions.get(item_id)
            (known if p is not None else unknown).append(p if p is not None else item_id)
        positions = np.array(known, np.int64)
        if dense is not None:
            mixture = np.zeros(len(positions))
            inside = positions < len(dense)  # items stored since the version: none of the similar users had them
            mixture[inside] = dense[positions[inside]]
            scores = 1.0 + mixture
            rest = mixture <= 0  # items none of the similar users had: in the model's order
            if rest.any():
                vector = self._factors_of(state, user_id, pos, events)
                model_scores = ranking.model_scores(state, np.append(vector, 1.0).astype(np.float32), positions[rest])
                scores[rest] = neighbours.ranked(np.zeros(rest.sum()), model_scores + state.model.score_offset(pos))
        elif vector is None:
            scores = state.popularity[positions] if len(positions) else np.zeros(0)
        else:
            scores = ranking.model_scores(state, np.append(vector, 1.0).astype(np.float32), positions)
            scores = scores + state.model.score_offset(pos)
        # Equal scores (a model that cannot tell them apart): the more popular first.
        order = np.lexsort((-state.popularity[positions], -scores)) if len(positions) else np.zeros(0, np.int64)
        positions = positions[order]
        items = ranking.listed(state, positions, np.asarray(scores)[order])
        trained = state.model.trained if state.model is not None else None
        if trained is not None and trained.rater is not None and len(positions):
            known = positions < state.model.n_items  # items the rater never saw get no prediction
            ratings = trained.predicted_rating(pos, positions[known])
            for item, rating in zip((i for i, k in zip(items, known, strict=True) if k), ratings.tolist(),
                                    strict=True):
                item["predicted_rating"] = round(rating, 4)
        return Answer(state.model.version if state.model else None, strategy, items, unknown)

    def similar(self, item_id: str, k: int) -> Answer | None:
        """Items whose factors point the same way (cosine), recommendable ones only; None if unknown."""
        with self.engine.connect() as conn:
            state, _ = self._read(conn, None)
            pos = state.catalog.positions.get(item_id)
            # Unknown or deleted (404), or a bare item an event created since the last background refresh.
            if (pos is None or not state.catalog.recommendable[pos]) and \
                    conn.scalar(_LIVE_ITEM, {"item_id": item_id}) is None:
                return None
        if pos is None:
            positions, scores = ranking.popular(state, state.catalog.eligible(), k)
            return Answer(state.model.version if state.model else None, "popular",
                          ranking.listed(state, positions, scores))
        eligible = state.catalog.eligible()
        eligible[pos] = False
        vec = ranking.item_vector(state, pos)
        if state.model is None or vec is None or not vec[:-1].any():
            positions, scores = ranking.popular(state, eligible, k)
            return Answer(state.model.version if state.model else None, "popular", ranking.listed(state, positions,
                                                                                                scores))
        direction = (vec[:-1] / max(float(np.linalg.norm(vec[:-1])), 1e-8)).astype(np.float32)
        positions, scores = ranking.search(state, state.model.similar, state.fresh_directions, direction, eligible, k)
        return Answer(state.model.version, "personalized", ranking.listed(state, positions, scores))
