"""The answers: a user's recommendations, ranked candidates, similar items, free-text queries, behind one
façade (``Recommender``) whose parts each do one job: the store's reads (``reads``), what ranks a user
(``users``), the scoring over the served state (``ranking``), the context's re-ranking (``app.context``), the
explanations (``explain``) and the answer cache (``answers``).

Per request the store is read once: the serving epoch together with the user's latest events. Everything else
is in memory, in the served ``State`` (``app.recommender.state``): the model version, its FAISS indexes, the
catalog view, popularity. A state older than the epoch read is refreshed first, so a write acknowledged by any
API process is in the next answer of every one.

    answer = recommender.recommend(ListRequest("u-42", k=10, filters=Filters.of(category="shoes")))
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.context import features as context_features
from app.core.config import Settings
from app.model import neighbours
from app.model.serving import ServingModel
from app.recommender import diversity as diversity_mod
from app.recommender import ranking, reads, rules, users, variants
from app.recommender.answers import AnswerCache
from app.recommender.explain import because
from app.recommender.filters import NONE as NO_FILTERS
from app.recommender.filters import Filters
from app.recommender.state import Served, State

CONTEXT_POOL = 100  # with a context, the top max(4k, this) are re-ranked by it


@dataclass
class Answer:
    model_version: str | None
    strategy: str
    items: list[dict[str, Any]]
    unknown: list[str] | None = None
    rules: list[str] | None = None  # the merchandising rules that acted (list routes); None: none did
    experiment_id: str | None = None  # the experiment that made the list, and its variant ("interleaved": both)
    variant: str | None = None
    arms: tuple[tuple[str, Answer], ...] | None = None  # interleaving: each variant's own list, merged per answer

    def kept(self) -> tuple:
        """The answer as the cache keeps it: tuples of strings and numbers only (each item as its (name, value)
        pairs), which the cyclic collector stops walking; a tuple holding a dict or an instance it walks at
        every full collection (app.recommender.answers). Only a list's own fields: kept answers are made
        before an experiment names them."""
        return (self.model_version, self.strategy, tuple(tuple(item.items()) for item in self.items),
                *(None if names is None else tuple(names) for names in (self.unknown, self.rules)))

    @classmethod
    def from_kept(cls, kept: tuple) -> Answer:
        version, strategy, items, *names = kept
        return cls(version, strategy, [dict(item) for item in items], *(None if n is None else list(n) for n in names))


@dataclass(frozen=True)
class ListRequest:
    """What a list is asked for: whose (``user_id``, None: nobody known; ``items``: what the visitor viewed this
    session, newest last), how long, which items may enter (``filters``, seen items out), what moves it
    (``query`` in words, ``context``: {timestamp, location, device}, ``diversity`` 0-1) and whether each item
    says why (``explain``)."""

    user_id: str | None = None
    k: int = 10
    exclude_seen: bool = True
    filters: Filters = NO_FILTERS
    query: str | None = None
    context: dict | None = field(default=None, hash=False)
    explain: bool = False
    items: tuple[str, ...] = ()
    diversity: float = 0.0
    session_id: str | None = None  # the visit's id: assigns a shopper without a user_id to an experiment's variant


@dataclass(frozen=True)
class SessionEvent:
    """An item viewed this session, as the user's stored events are read (``reads.events``): the ranking
    reads a visitor's session and a stored user's latest events alike. Ids are negative and name the session
    (a hash of its items), so a fold-in kept for one session is never another's."""

    id: int
    item_id: str
    type: str = "view"
    value: float | None = None


def session_events(items: tuple[str, ...]) -> list[SessionEvent]:
    """The session's items as events, newest first (as the store's reads give them)."""
    name = int.from_bytes(hashlib.blake2b("\x1f".join(items).encode(), digest_size=7).digest(), "big")
    return [SessionEvent(-(name << 8) - n - 1, item_id) for n, item_id in enumerate(reversed(items))]


class Gathered(NamedTuple):
    """What ``Recommender._gather`` read for one list (the store's part), and ``_finish`` ranks in memory."""

    state: State
    events: list
    request: ListRequest
    route: str
    now: float
    apply_rules: bool
    key: tuple | None  # the answer cache's key; None for a list that is not kept
    dense: users.FewEvents | None
    profile: Any
    vector: np.ndarray | None
    pos: int | None
    strategy: str


class Recommender:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, reads: Engine | None = None) -> None:
        self.engine = reads or sessions.kw["bind"]  # requests: a pooled Core connection, no ORM session
        self.tastes = users.Tastes(settings)
        self.settings = settings
        self.served = Served(sessions, settings, on_model_change=self._clear_caches)
        self.answers = AnswerCache(settings.answer_cache)
        self.encoder = None  # the query encoder: see query_encoder
        self._encoder_lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:  # settings swapped at run time reach every part
        self._settings = settings
        self.tastes.settings = settings

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
                    # here: torch and transformers load once a model is served, not at import
                    from app.encoder.batcher import QueryBatcher
                    from app.encoder.model import Encoder

                    s = self.settings
                    self.encoder = QueryBatcher(Encoder(s.encoder_model, s.device, s.encoder_max_tokens,
                                                        s.encoder_batch_size))
        return self.encoder

    def _clear_caches(self) -> None:
        self.tastes.clear()
        self.answers.clear()  # unreachable now (another generation): free them

    def _read(self, conn: Connection, user_id: str | None) -> tuple[State, list]:
        """The served state, at least as new as the store's epoch, and the user's events it has not seen."""
        state = self.served.current()
        if user_id is None:
            return self.served.at_least(reads.epoch(conn)), []
        epoch, events = reads.events(conn, state, user_id)
        if epoch > state.epoch:
            fresh = self.served.at_least(epoch)
            if fresh.model is not state.model:  # another version: another "since"
                epoch, events = reads.events(conn, fresh, user_id)
            state = fresh
        return state, events

    def _user(self, conn: Connection, state: State, user_id: str, events: list, few: bool = True,
              at: np.ndarray | None = None):
        """(few-event scores or None, vector, model position, strategy) of a user; ``at``: the few-event scores
        of those positions only."""
        dense = self.tastes.few_events(conn, state, user_id, events, at) if few else None
        if dense is None:
            return None, *self.tastes.vector(conn, state, user_id, events)
        return dense, None, state.model.user_positions.get(user_id), "personalized"

    def taste(self, user_id: str | None) -> tuple[State, np.ndarray | None, set[int]]:
        """What a conversation mixes in, in one read: the served state, the user's vector (None for nobody or
        a visitor the model cannot place) and their seen items' positions."""
        with self.engine.connect() as conn:
            state, events = self._read(conn, user_id or None)
            vector, seen = None, set()
            if user_id:
                vector, pos, _ = self.tastes.vector(conn, state, user_id, events)
                seen = users.seen(state, pos, events)
        return state, vector, seen

    def text_query(self, model: ServingModel, text_vector: np.ndarray) -> np.ndarray:
        """A text vector (a query, or one moved by feedback) as a vector in user space, at the users' scale."""
        q, _ = model.factors.item_from_text(text_vector[None].astype(np.float32))
        return users.to_user_scale(model, q[0])

    # ------------------------------------------------------------ answers

    def recommend(self, r: ListRequest) -> Answer:
        """The top k; a context re-ranks the top max(4k, CONTEXT_POOL) by what the store showed of it
        (``app.context``); ``explain`` gives each item a ``because``. On a route with a running experiment the
        shopper's variant makes the list (``app.recommender.variants``); with interleaving, both do."""
        with self.engine.connect() as conn:
            state, events = self._read(conn, r.user_id or None)
            if r.items:  # this session's views: newer than anything stored
                events = session_events(r.items) + events
            route = "session" if r.items else "recommendations"
            now = time.time()
            arm = variants.assigned(state, route, r.user_id or r.session_id, now) if state.experiments else None
            if arm is None:  # no experiment on this route (one dict lookup), or no shopper to assign
                pending = self._gather(conn, state, events, r, route, now)
            else:
                experiment, chosen = arm
                pending = [self._gather(conn, *self._variant_state(conn, state, events, r, v), route, now,
                                        v.rules, (experiment.experiment_id, v.name)) for v in chosen]
        if arm is None:
            return self._finish(pending)
        answers = [self._finish(p) for p in pending]
        if experiment.method == "ab":
            return dataclasses.replace(answers[0], experiment_id=experiment.experiment_id, variant=chosen[0].name)
        a, b = answers
        acted = sorted(set(a.rules or ()) | set(b.rules or ())) or None
        return Answer(a.model_version, a.strategy, [], rules=acted, experiment_id=experiment.experiment_id,
                      variant=variants.INTERLEAVED, arms=((chosen[0].name, a), (chosen[1].name, b)))

    def _variant_state(self, conn: Connection, state: State, events: list, r: ListRequest, v: variants.Variant
                       ) -> tuple[State, list, ListRequest]:
        """What a variant's list is made of: its model version's state (and the user's events newer than that
        version) and the request with its diversity."""
        if v.diversity is not None:
            r = dataclasses.replace(r, diversity=v.diversity)
        if v.model_version is None or (state.model is not None and v.model_version == state.model.version):
            return state, events, r
        other = self.served.of_version(v.model_version, state)
        if other is None:  # deleted since the experiment began: the active version serves the arm
            return state, events, r
        stored = reads.events(conn, other, r.user_id)[1] if r.user_id else []
        return other, (session_events(r.items) + stored if r.items else stored), r

    def _gather(self, conn: Connection, state: State, events: list, r: ListRequest, route: str, now: float,
                apply_rules: bool = True, tag: tuple | None = None):
        """The part of a list that reads the store: a kept answer, or what ``_finish`` ranks with."""
        key = None
        if not (r.query or r.context or r.explain):  # the plain call: kept until anything it reads moves
            key = (id(self.settings), r.user_id, r.k, r.exclude_seen, r.filters.key, r.diversity, r.items,
                   state.epoch, state.generation, events[0].id if events else None, len(events),
                   state.rules.phase(now), tag, state.model.version if tag and state.model else None)
            kept = self.answers.get(key)
            if kept is not None and kept[1] in (None, state.popularity_generation):
                return Answer.from_kept(kept[0])
        dense, profile, vector, pos, strategy = None, None, None, None, "popular"
        if r.user_id or events:
            dense, vector, pos, strategy = self._user(conn, state, r.user_id, events, few=not r.query)
            if r.explain:
                profile = reads.profile(conn, r.user_id)
        return Gathered(state, events, r, route, now, apply_rules, key, dense, profile, vector, pos, strategy)

    def _finish(self, pending: Gathered | Answer) -> Answer:
        """The list from what ``_gather`` read (in memory: no connection held)."""
        if isinstance(pending, Answer):
            return pending
        state, events, r, route, now, apply_rules, key, dense, profile, vector, pos, strategy = pending
        if r.query and state.model is not None and state.model.factors.item_map is not None:
            query_vector = self._query_vector(state.model, r.query)
            vector = query_vector if vector is None else 0.5 * vector + 0.5 * query_vector
            strategy = "personalized" if strategy == "personalized" else "text"
        values = self._context_values(state, r.context)
        live = state.rules.matching(route, r.filters.categories, self._segment(state, pos), now) if apply_rules \
            else ()
        if values or r.diversity > 0:  # the pool is re-ranked before the rules see it: the whole of it
            n = max(4 * r.k, CONTEXT_POOL, rules.pool_size(r.k) if live else 0)
        else:
            n = rules.needed(r.k, live)
        eligible = r.filters.mask(state.catalog)
        seen = users.seen(state, pos, events) if (events or pos is not None) else set()
        if r.exclude_seen and seen:
            eligible[list(seen)] = False
        if dense is not None:
            positions, scores = users.top_few_events(
                state, dense.scores, eligible, n, pos, lambda rest, m: self._top_k(
                    state, self.tastes.tail(state, r.user_id, pos, events, dense), rest, m))
            kind = "mixture"
        elif vector is None:
            positions, scores = ranking.popular(state, eligible, n)
            strategy, kind = "popular", "count"
        else:
            positions, scores = self._top_k(state, vector, eligible, n,
                                            r.filters.within(state.catalog, ranking.EXACT_BELOW))
            scores, kind = scores + state.model.score_offset(pos), "logit"
        if values:
            positions, scores = state.model.trained.context.rerank(
                state.catalog, positions, scores, kind, values, self.settings.context_weight)
        if r.diversity > 0:  # the whole pool in its new order where rules act on it next, else the top k
            order = diversity_mod.rerank(ranking.vectors_of(state, positions), state.catalog.category_codes[positions],
                                         scores, len(positions) if live else r.k, r.diversity)
            positions, scores = positions[order], np.asarray(scores)[order]
        positions, scores, placed, acted = self._merchandise(state, live, positions, scores, eligible, r.k)
        items = ranking.listed(state, positions, scores)
        if r.explain:
            newest = [p for e in events if (p := state.catalog.positions.get(e.item_id)) is not None]
            seen_order = list(dict.fromkeys(newest + sorted(seen - set(newest))))  # the latest events first
            for item, reason in zip(items, because(state, positions, seen_order, pos, strategy, r.query, profile,
                                                   values, self.settings.context_weight), strict=True):
                item["because"] = reason
        self._say_placed(items, positions, placed)
        answer = Answer(state.model.version if state.model else None, strategy, items, rules=acted or None)
        if key is not None:  # popular lists, and few-event ones (ties by popularity), last while popularity does
            reads_popularity = dense is not None or strategy == "popular"
            self.answers.put(key, (answer.kept(), state.popularity_generation if reads_popularity else None))
        return answer

    @staticmethod
    def _context_values(state: State, context: dict | None) -> dict[str, str]:
        """The request context's feature values the served version's context model knows (the rest change
        nothing): empty without a context, a model, or a context model."""
        if not context or state.model is None or state.model.trained.context is None:
            return {}
        return state.model.trained.context.known(context_features(**context))

    @staticmethod
    def _segment(state: State, pos: int | None) -> int | None:
        """The user's segment in the served version (rules may ask for one); None for a user it lacks."""
        segments = state.model.trained.segments if state.model is not None else None
        ref = segments.of(pos) if segments is not None else None
        return ref["segment_id"] if ref else None

    @staticmethod
    def _merchandise(state: State, live: tuple, positions: np.ndarray, scores: np.ndarray, eligible: np.ndarray,
                     k: int) -> tuple[np.ndarray, np.ndarray, dict[int, str], list[str]]:
        """The top k after the rules that apply (``app.recommender.rules``), from a pool scored past k."""
        if not live:
            return positions[:k], scores[:k], {}, []
        return rules.apply(state.rules, live, state.catalog, positions, scores, eligible, k)

    @staticmethod
    def _say_placed(items: list[dict[str, Any]], positions: np.ndarray, placed: dict[int, str]) -> None:
        for item, p in zip(items, positions.tolist(), strict=True):
            if p in placed:
                item["because"] = placed[p]

    def _query_vector(self, model: ServingModel, query: str) -> np.ndarray:
        q, _ = model.factors.item_from_text(self.query_encoder().encode([query]))
        return users.to_user_scale(model, q[0])

    def _top_k(self, state: State, vector: np.ndarray, eligible: np.ndarray, k: int,
               within: np.ndarray | None = None):
        query = np.append(vector, 1.0).astype(np.float32)
        return ranking.search(state, state.model.index, state.fresh_vectors, query, eligible, k, within)

    def rank(self, user_id: str, item_ids: list[str]) -> Answer:
        """Every known candidate, best first; ids the catalog does not know are listed under ``unknown``."""
        with self.engine.connect() as conn:
            state, events = self._read(conn, user_id)
            known, unknown = [], []
            for item_id in dict.fromkeys(item_ids):
                p = state.catalog.positions.get(item_id)
                (known if p is not None else unknown).append(p if p is not None else item_id)
            positions = np.array(known, np.int64)
            # Items stored since the version: none of the similar users had them.
            inside = positions < (state.model.n_items if state.model is not None else 0)
            dense, vector, pos, strategy = self._user(conn, state, user_id, events, at=positions[inside])
        if dense is not None:
            mixture = np.zeros(len(positions))
            mixture[inside] = dense.scores
            scores = 1.0 + mixture
            rest = mixture <= 0  # items none of the similar users had: in the model's order
            if rest.any():
                vector = self.tastes.tail(state, user_id, pos, events, dense)
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

    def similar(self, item_id: str, k: int, filters: Filters = NO_FILTERS) -> Answer | None:
        """Items whose factors point the same way (cosine), recommendable ones that pass ``filters`` only; None
        if unknown."""
        with self.engine.connect() as conn:
            state, _ = self._read(conn, None)
            pos = state.catalog.positions.get(item_id)
            # Unknown or deleted (404), or a bare item an event created since the last background refresh.
            if (pos is None or not state.catalog.recommendable[pos]) and not reads.item_is_live(conn, item_id):
                return None
        live = state.rules.matching("similar", filters.categories, None, time.time())
        n = rules.needed(k, live)
        eligible = filters.mask(state.catalog)
        if pos is not None:
            eligible[pos] = False
        vec = ranking.item_vector(state, pos)
        if pos is None or state.model is None or vec is None or not vec[:-1].any():
            positions, scores = ranking.popular(state, eligible, n)
            strategy = "popular"
        else:
            direction = (vec[:-1] / max(float(np.linalg.norm(vec[:-1])), 1e-8)).astype(np.float32)
            positions, scores = ranking.search(state, state.model.similar, state.fresh_directions, direction,
                                               eligible, n)
            strategy = "personalized"
        positions, scores, placed, acted = self._merchandise(state, live, positions, scores, eligible, k)
        items = ranking.listed(state, positions, scores)
        self._say_placed(items, positions, placed)
        return Answer(state.model.version if state.model else None, strategy, items, rules=acted or None)
