"""What the trainer's parts share: parameters and input arrays (the trained factors are ``app.model.Factors``).
Its own module so that the solvers (``model``: Adam, ``bayes``: Gibbs) and their callers depend on it, never on
each other."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from app.model.factors import DEFAULT_EVENT_WEIGHTS, Factors

__all__ = ["DEFAULT_EVENT_WEIGHTS", "Factors", "TrainData", "TrainParams", "TrainingDiverged"]

GIBBS_MAX_ROWS = 200_000  # users + items: about 1 GB of per-row precision matrices at 20 factors


class TrainingDiverged(ValueError):
    """A loss, validation figure or exported array turned NaN or infinite: no version may be written."""


@dataclass
class TrainParams:
    """Hyper-parameters; every field has a default that works on ML-100K-sized data.

    factors : k, the width of user and item factors.
    objective : ``auto`` (ranking factors to serve, plus a rating predictor when there are ratings), ``rating``
        or ``ranking``.
    init : ``semantic`` (from text vectors) or ``random``.
    text_map : learn W (cold start by text); False keeps only the per-id offsets.
    epochs, patience : at most this many epochs (Gibbs sweeps); stop after ``patience`` without a better
        validation score.
    val_fraction : share of the training events carved out for early stopping.
    solver : ``auto`` (Gibbs sampling for ``rating``, Adam for ``ranking``), ``gibbs`` or ``adam``.
    rating_offset : c in a rating's ranking weight ``event_weights["rating"] * (value + c) / (5 + c)``: a rating
        is a positive event, a 5 counts more than a 1 (c = 0: in proportion to the value; larger: flatter). The
        default 20 (a 1 weighs 0.84 of a 5) ranked as well as c = 0 or 5 on a validation split of ML-100K's P2
        training events and alone kept P3's cold items (docs/training.md).
    neighbourhood_rank : r, the width of the item-kNN term appended to the ranking factors
        (``app.trainer.neighbourhood``); 0 turns it off.
    neighbourhood_weight : its blend weight, on the scale of each user's factor scores; 0 turns it off. The
        default 1 was best on validation splits carved from ML-100K's and Gift Cards' P2 training events (flat
        on Gift Cards); the shop's own carve replaces it where a candidate clearly wins (docs/training.md).
    content_rank, content_weight : the TF-IDF term for items without events (``app.trainer.content``): its LSA
        rank and blend weight (0 turns it off). The weight applies in full where the items are read without
        shoppers' reviews and shrinks to 0 as the share of reviewed items (with events) grows to 1: ML-100K (no
        reviews) was best at 0.5 and Gift Cards (every item reviewed: its text map reads the shoppers' words) at
        0, on validation splits carved from P3's training data (docs/training.md).
    select : choose the blend per shop (``app.trainer.selection``): the weights of the item-kNN, lexical and
        popularity terms for next items, and of the content term and the text map for new items, picked on the
        shop's own held-out events (``app.trainer.carve``) among candidates that include the simple peers alone;
        the weights given here are the incumbent a candidate must beat beyond noise. False: served as given.
    lexical_weight : a TF-IDF term over every item's catalog words (the user side: the words of their items).
    lexical_text : what the lexical term reads (chosen per shop): ``catalog``, the items' catalog words;
        ``reviews``, those and their events' review texts; ``vectors``, the items' text vectors read from their
        catalog text alone (dense text similarity: the encoder's meaning where the words differ).
    content_text : the same for the content term: ``catalog`` (TF-IDF) or ``vectors`` (chosen per shop).
    popularity_weight : a popularity term (log of each item's event count).
    ease_weight, ease_lambda : a low-rank EASE term (``app.trainer.ease``, rank ``neighbourhood_rank``) and its
        ridge λ; by default off, the carve gives it weight (and chooses λ) where it ranks a shop's next items.
    text_map_weight : the text map's share in the scores of items without events (0: their words alone, by
        the content term, rank them).
    refit_epochs : after validation, the epochs the fit goes on for over every event (None: a quarter of the
        epochs validation took, at least 1).
    burn_in, noise_precision, text_ridge : Gibbs only: sweeps before averaging starts, the precision α of a
        rating around its prediction (None: sampled), and the ridge weight of the text regression.
    """

    factors: int | None = None  # None: 64 for Adam, 20 for Gibbs sampling
    objective: str = "auto"
    solver: str = "auto"
    init: str = "semantic"
    text_map: bool = True
    epochs: int | None = None  # None: 60 epochs for Adam, 200 sweeps for Gibbs sampling
    patience: int = 4
    lr: float = 0.005
    batch_size: int = 512
    reg: float | None = None  # on each event's p_u, q_i offsets and biases; None: 0.1 rating, 0.03 ranking
    reg_map: float = 1e-2  # weight decay of the text maps
    init_scale: float = 0.1
    val_fraction: float = 0.05
    negatives: int = 1000  # sampled softmax, for catalogs above full_softmax_items
    full_softmax_items: int = 50_000
    event_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    rating_offset: float = 20.0
    neighbourhood_rank: int = 128
    neighbourhood_weight: float = 1.0
    content_rank: int = 128
    content_weight: float = 0.5
    select: bool = True
    lexical_weight: float = 0.0
    lexical_text: str = "catalog"
    content_text: str = "catalog"
    popularity_weight: float = 0.0
    ease_weight: float = 0.0
    ease_lambda: float = 200.0
    text_map_weight: float = 1.0
    refit_epochs: int | None = None
    burn_in: int = 20
    noise_precision: float | None = None  # None: drawn from its posterior
    text_ridge: float = 10.0
    seed: int = 0
    device: str = "cpu"
    precision: str = "auto"  # Adam's matrix products: "bf16", "fp32", or auto (ranking: bf16 where the CPU/GPU has it)

    def resolved(self, objective: str, rows: int = 0) -> TrainParams:
        """Every ``auto``/None replaced by what training ``objective`` on ``rows`` users + items will use
        (what a version records). Gibbs holds a (k+1)² matrix per row: above GIBBS_MAX_ROWS, Adam."""
        solver = self.solver
        if solver == "auto":
            solver = "gibbs" if objective == "rating" and rows <= GIBBS_MAX_ROWS else "adam"
        gibbs = solver == "gibbs"
        return replace(
            self, objective=objective, solver=solver,
            factors=self.factors or (20 if gibbs else 64), epochs=self.epochs or (200 if gibbs else 60),
            reg=self.reg if self.reg is not None else (0.1 if objective == "rating" else 0.03))


@dataclass
class TrainData:
    """Events as integer arrays over user and item indexes, plus optional text vectors (rows aligned with
    the indexes, a mask saying which rows are real)."""

    n_users: int
    n_items: int
    users: np.ndarray  # int64 (n,)
    items: np.ndarray  # int64 (n,)
    ratings: np.ndarray  # float32 (n,), NaN for implicit events
    weights: np.ndarray  # float32 (n,), event-type weight
    item_text: np.ndarray | None = None  # float32 (n_items, d)
    item_has_text: np.ndarray | None = None  # bool (n_items,)
    user_text: np.ndarray | None = None
    user_has_text: np.ndarray | None = None
    item_words: list[str] | None = None  # each item's catalog text (title, category, description, attributes)
    item_reviewed: np.ndarray | None = None  # bool (n_items,): the text vector read shoppers' reviews
    user_reviewed: np.ndarray | None = None  # bool (n_users,): the text vector read the user's own reviews
    review_texts: dict[int, str] | None = None  # event row -> its review text (the rows that have one)
    # each item's text vector read from its catalog text alone where item_text read reviews (None: not re-read)
    item_catalog_text: np.ndarray | None = None

    @property
    def rated(self) -> np.ndarray:
        return np.isfinite(self.ratings)

    def only(self, rows: np.ndarray) -> TrainData:
        """These events alone, in this order (the review texts renumbered with them); the rest as it is."""
        texts = None
        if self.review_texts:
            texts = {n: self.review_texts[r] for n, r in enumerate(rows.tolist()) if r in self.review_texts} or None
        return replace(self, users=self.users[rows], items=self.items[rows], ratings=self.ratings[rows],
                       weights=self.weights[rows], review_texts=texts)


def choose_objective(data: TrainData, objective: str) -> str:
    """The objective of the factors a run serves: ``rating`` only when asked for, else ``ranking`` (a model fit
    to squared error ranks poorly for top-K: Cremonesi, Koren & Turrin, RecSys 2010)."""
    return "rating" if objective == "rating" else "ranking"


def objectives(data: TrainData, objective: str) -> list[str]:
    """Every fit a run makes, the served one first: ``auto`` adds a rating predictor when any event is rated."""
    served = choose_objective(data, objective)
    return [served, "rating"] if objective == "auto" and data.rated.any() else [served]


def ranking_weights(data: TrainData, p: TrainParams) -> np.ndarray:
    """Each event's weight in the ranking objective: its type's, and for a rating, scaled by its value."""
    weights = data.weights.astype(np.float32, copy=True)
    rated = data.rated
    c = p.rating_offset
    weights[rated] *= ((np.clip(data.ratings[rated], 1, 5) + c) / (5 + c)).astype(np.float32)
    return weights
