"""The served state and how it follows the store.

A ``State`` is everything an answer reads besides the user's own events: the active model version, the catalog
view, popularity and the items mapped in by text since training. It is swapped in whole, so a request works on
one consistent state and never waits for a half-made one.

Read-your-writes across API processes: catalog writes, item vector writes and activations bump one counter row
(``serving_epoch``) in their own transaction. Every request reads that counter in the same round trip as the
user's events; a state older than it is refreshed before the answer (``Served.at_least``). Popularity follows
per-item event counts that ingestion keeps up (``item_counts``), read incrementally by the background refresh
every ``SEMREC_REFRESH_SECONDS``: current within seconds, never a scan of the events. Merchandising rules
(``rules``) bump the epoch too, and are read again by a refresh that finds it moved (``app.recommender.rule_reads``),
and so do the running experiments (``experiment_reads``); a variant that serves another model version gets a
state of its own (``Served.of_version``), kept beside the active one.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.model import serving
from app.model.serving import ServingModel
from app.recommender import catalog as catalog_mod
from app.recommender import experiment_reads, rule_reads
from app.recommender.catalog import OVERLAP, Catalog
from app.recommender.rules import RuleSet
from app.store.db import make_engine, make_sessionmaker
from app.store.models import ItemCount, ModelVersion, ServingEpoch, utcnow

log = logging.getLogger("semrec.recommender")
EPOCH = select(ServingEpoch.epoch).where(ServingEpoch.id == 1)
OTHER_VERSIONS = 2  # model versions besides the active one that experiments may serve at once


@dataclass(frozen=True)
class State:
    epoch: int  # the store's serving epoch this state is at least as new as
    model: ServingModel | None
    catalog: Catalog
    popularity: np.ndarray  # event counts over catalog positions
    popularity_since: datetime  # the next incremental read of the counts starts here (less the overlap)
    fresh_positions: np.ndarray  # catalog positions of items the model has not seen but whose text maps in
    fresh_vectors: np.ndarray  # their [W·e, b] score vectors
    fresh_directions: np.ndarray  # their normalised W·e, for similar items
    fresh_rows: dict[int, int]  # catalog position -> row of the two arrays above
    generation: int = 0  # moves on whenever the model or the catalog changes: kept answers are keyed by it
    popularity_generation: int = 0  # moves on with popularity: only answers that read popularity check it
    rules: RuleSet = field(default_factory=RuleSet)  # the active merchandising rules (app.recommender.rules)
    experiments: dict = field(default_factory=dict)  # route -> its running experiments (experiment_reads.load)


class Served:
    """Holds the current ``State``; ``refresh`` makes the next one from what changed in the store."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, on_model_change=None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.state: State | None = _take_preloaded()
        self.on_model_change = on_model_change or (lambda: None)
        self._lock = threading.Lock()  # one refresh at a time (a model load may take seconds)
        self._version_lock = threading.Lock()  # other versions' states (experiments), apart from the refresh
        self._versions: OrderedDict[str, tuple[tuple, State]] = OrderedDict()  # version -> (active's mark, state)

    def current(self) -> State:
        return self.state or self.refresh()

    def at_least(self, epoch: int) -> State:
        """A state at least as new as ``epoch``: the current one, or a refresh (once, whoever asks first)."""
        state = self.state
        if state is not None and state.epoch >= epoch:
            return state
        return self.refresh(epoch)

    def refresh(self, epoch: int | None = None) -> State:
        """Load the active version if it changed, then apply catalog and popularity changes."""
        with self._lock, self.sessions() as session:
            old = self.state
            if epoch is not None and old is not None and old.epoch >= epoch:
                return old  # another request refreshed while this one waited
            # The epoch first: what is read after it is at least that new.
            now_epoch = session.scalar(EPOCH) or 0
            active = session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))).first()
            model = old.model if old else None
            if active is None:
                model = None
            elif model is None or model.version != active.version:
                model = serving.load(active.version, Path(active.artifact_path), self.settings.index_exact_max,
                                      self.settings.hnsw_ef_search)
                log.info("serving model version %s (%d items)", model.version, model.n_items)
            rules = rule_reads.load(session, old.rules if old else None, old is None or now_epoch != old.epoch)
            running = experiment_reads.load(session, old.experiments if old else None,
                                            old is None or now_epoch != old.epoch)
            self.state, model_changed, catalog_changed = _next(session, model, old, now_epoch, rules, running)
            if model_changed:
                self.on_model_change()
            if catalog_changed:
                # The served state is large and long-lived: move it out of the cyclic GC's reach, or every full
                # collection walks hundreds of thousands of catalog objects and stalls requests (p99 tails).
                gc.freeze()
            return self.state

    def of_version(self, version: str, active: State) -> State | None:
        """The served state of another model version than the active one (an experiment's variant serves it):
        that version's model over the same store, its catalog view mapped to that version's items, refreshed
        incrementally whenever ``active`` moved on (its epoch, catalog or popularity). At most
        ``OTHER_VERSIONS`` are kept; None for a version the store lacks."""
        with self._version_lock:
            mark = (active.epoch, active.generation, active.popularity_generation)
            kept = self._versions.get(version)
            if kept is not None and kept[0] == mark:
                return kept[1]
            with self.sessions() as session:
                old = kept[1] if kept is not None else None
                model = old.model if old is not None else None
                if model is None:
                    row = session.get(ModelVersion, version)
                    if row is None:
                        return None
                    model = serving.load(row.version, Path(row.artifact_path), self.settings.index_exact_max,
                                         self.settings.hnsw_ef_search)
                    log.info("serving model version %s for an experiment", version)
                state, _, _ = _next(session, model, old, active.epoch, active.rules, active.experiments)
            self._versions[version] = (mark, state)
            self._versions.move_to_end(version)
            while len(self._versions) > OTHER_VERSIONS:
                self._versions.popitem(last=False)
            return state


def _next(session: Session, model: ServingModel | None, old: State | None, now_epoch: int, rules: RuleSet,
          running: dict) -> tuple[State, bool, bool]:
    """The state after ``old`` for ``model``: the catalog and popularity read incrementally where the model is
    the same; (the state, whether the model changed, whether the catalog did)."""
    model_changed = old is None or model is not old.model
    model_items = model.trained.item_ids if model else []
    encoder_model = model.trained.encoder_model if model else None
    cat = catalog_mod.load(session, model_items, encoder_model, None if model_changed else old.catalog)
    if model_changed and model is not None:  # filtered lists read a category's vectors as a few runs
        model.index.group_by(cat.category_codes[:model.n_items])
    popularity, since = _popularity(session, cat, None if model_changed else old)
    catalog_changed = model_changed or cat.positions is not old.catalog.positions or \
        cat.text_vectors is not old.catalog.text_vectors
    fresh = _fresh(model, cat) if catalog_changed else \
        (old.fresh_positions, old.fresh_vectors, old.fresh_directions, old.fresh_rows)
    same = old is not None and not model_changed and cat.stamps is old.catalog.stamps and \
        fresh[0] is old.fresh_positions
    generation = old.generation if same else (old.generation + 1 if old is not None else 0)
    counted = old.popularity_generation if old is not None and popularity is old.popularity else \
        (old.popularity_generation + 1 if old is not None else 0)
    state = State(now_epoch, model, cat, popularity, since, *fresh, generation, counted, rules, running)
    return state, model_changed, catalog_changed


_preloaded: State | None = None  # made by ``preload`` in the parent of forked API processes; each takes it once


def preload(settings: Settings) -> State | None:
    """The served state made once, before the API processes fork (``python -m app --workers N``). They start
    from the same memory pages, and since the indexes, arrays and catalog are only read, the pages stay shared
    (copy on write): N processes cost about one copy of the version instead of N. A version activated later
    loads in each process (its arrays mapped from the same files, its HNSW graph not). Nothing is preloaded
    while an index file is missing: building it would start FAISS's OpenMP threads, which a fork does not
    survive."""
    global _preloaded
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            active = session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))).first()
        if active is not None and not all(p.exists() for p in serving.index_paths(Path(active.artifact_path))):
            return None
        _preloaded = Served(make_sessionmaker(engine), settings).refresh()
    finally:
        engine.dispose()  # no connection may cross the fork
    gc.freeze()  # the collector of each child never touches (and so never copies) what is shared
    return _preloaded


def _take_preloaded() -> State | None:
    global _preloaded
    state, _preloaded = _preloaded, None
    return state


def _popularity(session: Session, cat: Catalog, old: State | None) -> tuple[np.ndarray, datetime]:
    """Event counts per catalog position: every count on a new model, else only the counts changed since the
    last read (overlapping it: a batch stamped just before it may have committed just after it)."""
    read_at = utcnow()
    stmt = select(ItemCount.item_id, ItemCount.events)
    counts = np.zeros(len(cat.item_ids))
    if old is not None:
        stmt = stmt.where(ItemCount.updated_at >= old.popularity_since - OVERLAP)
        counts[: len(old.popularity)] = old.popularity
    for item_id, n in session.execute(stmt):
        pos = cat.positions.get(item_id)
        if pos is not None:
            counts[pos] = n
    if old is not None and len(counts) == len(old.popularity) and np.array_equal(counts, old.popularity):
        counts = old.popularity
    return counts, read_at


def _fresh(model: ServingModel | None, cat: Catalog) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Items the model has not seen, mapped in through their text: computed once per catalog change."""
    if model is None or not cat.text_vectors or model.factors.item_map is None:
        k = model.item_vectors.shape[1] if model is not None else 1
        return np.zeros(0, np.int64), np.zeros((0, k), np.float32), np.zeros((0, k - 1), np.float32), {}
    positions = np.array(sorted(cat.text_vectors), np.int64)
    q, b = model.factors.item_from_text(np.vstack([cat.text_vectors[p] for p in positions]))
    directions = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-8)
    return (positions, np.hstack([q, b[:, None]]).astype(np.float32), directions.astype(np.float32),
            {int(p): n for n, p in enumerate(positions)})
