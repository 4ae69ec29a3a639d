"""Every method evaluated, behind two signatures (``Ranker``, ``Rater`` in ``protocols``): semrec's own trainer
(the code the service runs) in its ablations, simple references, and peer libraries. A peer whose library is
missing raises ``NotInstalled`` and is reported as such."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace

import numpy as np

from app.core.config import Settings
from app.evaluation.protocols import Task, list_metrics
from app.model import neighbours, serving
from app.trainer import few_events
from app.trainer.fit import fit
from app.trainer.types import TrainData, TrainParams


class NotInstalled(RuntimeError):
    pass


# The last one is the trainer's defaults, what the service's job trains. The others serve what they name
# (``select`` off): the shop's carve would otherwise add back the terms an ablation leaves out, and read text
# vectors (dense text similarity) in the one without text.
ABLATIONS = {
    "semrec: no text (random init, no content term)": {"init": "random", "text_map": False, "content_weight": 0.0,
                                                       "select": False},
    "semrec: semantic init": {"init": "semantic", "text_map": False, "select": False},
    "semrec: semantic init + text map, no appended terms": {"neighbourhood_weight": 0.0, "content_weight": 0.0,
                                                            "select": False},
    "semrec: semantic init + text map, no content term": {"content_weight": 0.0, "select": False},
    "semrec: semantic init + text map, no item-kNN term": {"neighbourhood_weight": 0.0, "select": False},
    "semrec: semantic init + text map": {},
}
# The terms are appended to the ranking factors only: the rating fit (P1) is the same with or without them.
RATING_ABLATIONS = {name: ABLATIONS[name] for name in ("semrec: no text (random init, no content term)",
                                                      "semrec: semantic init", "semrec: semantic init + text map")}


def _train_data(task: Task, ratings: bool, weight: float = 1.0) -> TrainData:
    """The task's events as the store hands them to training: in time order, each a rating (``ratings``) or an
    implicit event, of type weight ``weight``."""
    order = np.lexsort((task.items, task.timestamps))  # time order, as the store hands events to training
    has_user_text = np.array([bool(t) for t in task.user_texts]) if task.user_vectors is not None else None
    return TrainData(
        task.n_users, task.n_items, task.users[order], task.items[order],
        task.ratings[order] if ratings else np.full(len(order), np.nan, np.float32),
        np.full(len(order), weight, np.float32),
        item_text=task.item_vectors,
        item_has_text=None if task.item_vectors is None else np.array([bool(t) for t in task.item_texts]),
        user_text=task.user_vectors, user_has_text=has_user_text,
        item_words=task.catalog_texts or task.item_texts,
        item_reviewed=None if task.catalog_texts is None else np.array(
            [t != c for t, c in zip(task.item_texts, task.catalog_texts, strict=True)]),  # reviews were added
        review_texts=None if task.reviews is None else
        {row: str(task.reviews[n]) for row, n in enumerate(order) if task.reviews[n]} or None,
    )


def served_data(task: Task, params: TrainParams) -> TrainData:
    """What the service's default job trains its served (ranking) factors on, the data sets' events being star
    ratings: every event a rating, of the rating type's weight, scaled by its value inside ``fit``."""
    return _train_data(task, ratings=True, weight=params.event_weights["rating"])


def semrec_ranker(params: TrainParams, few_events_max: int = Settings.model_fields["few_events_max"].default):
    """The trained factors (the ranking fit of the service's default job), and for users with at most
    ``few_events_max`` training events the service's few-event ranking (``app.model.neighbours``): both
    as the service answers them."""
    def fit_task(task: Task):
        data = served_data(task, params)
        f = fit(data, replace(params, objective="ranking"), catalog_vectors=catalog_reader(task, data))
        item_vectors, _ = serving.item_vectors(f)
        indptr, items, chosen, profiles = few_events.references(data)
        if not (params.init == "semantic" or params.text_map):  # the "no text" ablation reads no profile either
            profiles = None
        refs = neighbours.build(chosen, f.factor_user_factors, item_vectors, indptr, items, profiles)
        strategy = f.validation.get("new_users", {}).get("chosen", "neighbours")  # chosen on the shop's carve
        popularity = np.bincount(data.items, minlength=data.n_items).astype(np.float32)

        def score(users):
            out = f.user_factors[users] @ f.item_factors.T + f.item_bias
            for row, u in enumerate(users):
                if 0 < indptr[u + 1] - indptr[u] <= few_events_max and len(refs.users):
                    first = neighbours.first_scores(strategy, refs, item_vectors, items[indptr[u]: indptr[u + 1]],
                                                    None if profiles is None or not data.user_has_text[u]
                                                    else data.user_text[u], popularity, exclude_user=u)
                    if first is not None:
                        out[row] = neighbours.ranked(first, out[row])
            return out
        return score
    return fit_task


_ENCODER = []


def catalog_reader(task: Task, data: TrainData):
    """As the training job's: the items a carve strips, read by their catalog text alone (the packaged
    encoder, loaded once), where the task's item vectors read reviews."""
    if data.item_reviewed is None or not data.item_reviewed.any() or task.catalog_texts is None:
        return None

    def read(items):
        if not _ENCODER:
            from app.encoder.model import Encoder  # here: torch and transformers load only if a carve reads texts

            _ENCODER.append(Encoder(Settings().encoder_model))
        return _ENCODER[0].encode([task.catalog_texts[i] for i in items]).astype(np.float32)
    return read


def semrec_rater(params: TrainParams):
    """The rating fit of the service's default job (its rater), on the ratings alone."""
    def fit_task(task: Task):
        f = fit(_train_data(task, ratings=True), replace(params, objective="rating"))
        return f.predict
    return fit_task


# ---------------------------------------------------------------- references


def global_mean(task: Task):
    mu = float(task.ratings.mean())
    return lambda users, items: np.full(len(users), mu)


def popularity(task: Task):
    counts = np.bincount(task.items, minlength=task.n_items).astype(np.float64)
    return lambda users: np.tile(counts, (len(users), 1))


def random_ranking(task: Task):
    rng = np.random.default_rng(0)
    return lambda users: rng.random((len(users), task.n_items))


def _tfidf(task: Task):
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError as exc:
        raise NotInstalled("scikit-learn") from exc
    vectorizer = TfidfVectorizer()  # over the catalog's fields, as PROTOCOLS.md defines the peer (and stronger
    # there than with the items' reviews added, on Gift Cards P3)
    return vectorizer, vectorizer.fit_transform(task.catalog_texts or task.item_texts)  # rows are L2-normalised


def _cosine_to_items(profiles, x):
    norms = np.sqrt(np.asarray(profiles.multiply(profiles).sum(1))).ravel()
    norms[norms == 0] = 1

    def score(users):
        p = profiles[users].multiply(1 / norms[users][:, None]).tocsr()
        return np.asarray((p @ x.T).todense())
    return score


def tfidf_content(task: Task):
    """Mean TF-IDF vector of the user's training items' text, cosine to every item."""
    _, x = _tfidf(task)
    return _cosine_to_items(_csr(task) @ x, x)


def tfidf_content_reviews(task: Task):
    """As ``tfidf_content``, plus the TF-IDF vector of the user's own text (their training reviews), each part
    of unit length."""
    vectorizer, x = _tfidf(task)
    items = _csr(task) @ x
    own = vectorizer.transform(task.user_texts)
    return _cosine_to_items(_unit_rows(items) + _unit_rows(own), x)


def _unit_rows(m):
    from scipy.sparse import diags

    norms = np.sqrt(np.asarray(m.multiply(m).sum(1))).ravel()
    return diags(1 / np.maximum(norms, 1e-12)) @ m


# ---------------------------------------------------------------- peers


def _csr(task: Task):
    from scipy.sparse import csr_matrix

    m = csr_matrix((np.ones(len(task.users), np.float32), (task.users, task.items)),
                   shape=(task.n_users, task.n_items))
    m.data[:] = 1  # repeated (user, item) events count once
    return m


def _implicit(kind: str):
    def fit_task(task: Task):
        try:
            from implicit.cpu.als import AlternatingLeastSquares
            from implicit.cpu.bpr import BayesianPersonalizedRanking
        except ImportError as exc:
            raise NotInstalled("implicit") from exc
        from threadpoolctl import threadpool_limits

        if kind == "als":
            model = AlternatingLeastSquares(factors=64, regularization=0.05, alpha=2.0, iterations=15, random_state=0)
        else:
            model = BayesianPersonalizedRanking(factors=64, learning_rate=0.01, regularization=0.01, iterations=100,
                                               random_state=0)
        with threadpool_limits(1, "blas"):  # implicit's own advice: its threads, not BLAS's
            model.fit(_csr(task), show_progress=False)
        u, v = np.asarray(model.user_factors), np.asarray(model.item_factors)
        return lambda users: u[users] @ v.T
    return fit_task


def item_knn(task: Task):
    """Item-kNN: cosine similarity over the binary user-item matrix, all neighbours; a user's score for an item
    is the sum of its similarities to the user's training items."""
    x = _csr(task)
    sim = _cosine_items(x)
    return lambda users: np.asarray(x[users] @ sim)


def _cosine_items(x) -> np.ndarray:
    norms = np.sqrt(np.asarray(x.sum(0))).ravel()
    norms[norms == 0] = 1
    sim = (x.T @ x).toarray() / norms[:, None] / norms[None, :]
    np.fill_diagonal(sim, 0)
    return sim


EASE_LAMBDAS = (1.0, 10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0)
EASE_MAX_ITEMS = 30_000  # a dense n_items² inverse


def ease(task: Task):
    """EASE (Steck 2019): B = I - P / diag(P), P = (XᵀX + λI)⁻¹, diag(B) = 0; λ chosen by NDCG@10 on a
    validation split carved from the training events by the P2 rule (each user's last 20%)."""
    if task.n_items > EASE_MAX_ITEMS:
        raise NotInstalled(f"a dense EASE over {task.n_items} items (more than {EASE_MAX_ITEMS})")
    inner, relevant = _carve_temporal(task)
    x_inner = _csr(_subtask(task, inner))
    users = np.array(sorted(relevant))
    gram = (x_inner.T @ x_inner).toarray().astype(np.float64)
    best = max(EASE_LAMBDAS, key=lambda lam: _ndcg10(np.asarray(x_inner[users] @ _ease_weights(gram, lam)),
                                                       users, relevant, x_inner))
    x = _csr(task)
    weights = _ease_weights((x.T @ x).toarray().astype(np.float64), best)
    score = lambda users: np.asarray(x[users] @ weights)  # noqa: E731
    score.chosen = {"lambda": best}
    return score


def _ease_weights(gram: np.ndarray, lam: float) -> np.ndarray:
    g = gram.copy()
    g[np.diag_indices_from(g)] += lam
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0)
    return b


def _carve_temporal(task: Task, share: float = 0.2, min_events: int = 5) -> tuple[np.ndarray, dict[int, set[int]]]:
    """The P2 rule inside the training events: each user's last ceil(20%) by (time, item) leave, for users with
    at least 5; (the remaining training mask, user -> held-out items)."""
    import math

    keep = np.ones(len(task.users), bool)
    relevant: dict[int, set[int]] = {}
    order = np.lexsort((task.items, task.timestamps, task.users))  # by user, then time
    bounds = np.flatnonzero(np.diff(task.users[order])) + 1
    for events in np.split(order, bounds):
        if len(events) >= min_events:
            held = events[-math.ceil(share * len(events)):]
            keep[held] = False
            relevant[int(task.users[events[0]])] = {int(i) for i in task.items[held]}
    return keep, relevant


def _subtask(task: Task, mask: np.ndarray) -> Task:
    return replace(task, users=task.users[mask], items=task.items[mask], ratings=task.ratings[mask],
                   timestamps=task.timestamps[mask], reviews=None if task.reviews is None else task.reviews[mask])


def _ndcg10(scores: np.ndarray, users: np.ndarray, relevant: dict[int, set[int]], seen) -> float:
    scores = scores.astype(np.float64, copy=True)
    scores[seen[users].nonzero()] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :10]
    return list_metrics(top, [relevant[int(user)] for user in users], (10,))["ndcg@10"]


implicit_als = _implicit("als")
implicit_bpr = _implicit("bpr")


def lightfm_warp(task: Task):
    """LightFM, WARP loss, with item features: identity plus a binary bag of words of the item text."""
    try:
        from lightfm import LightFM
        from scipy.sparse import hstack, identity
        from sklearn.feature_extraction.text import CountVectorizer
    except ImportError as exc:
        raise NotInstalled("lightfm") from exc
    words = CountVectorizer(binary=True, min_df=2).fit_transform(task.item_texts)
    features = hstack([identity(task.n_items, format="csr"), words]).tocsr().astype(np.float32)
    model = LightFM(loss="warp", no_components=64, learning_rate=0.05, random_state=0)
    model.fit(_csr(task).tocoo(), item_features=features, epochs=30, num_threads=2)
    item_bias, item_emb = model.get_item_representations(features)
    user_bias, user_emb = model.get_user_representations()
    return lambda users: user_emb[users] @ item_emb.T + item_bias


def _surprise(algo: str):
    def fit_task(task: Task):
        try:
            from surprise import SVD, Dataset, Reader, SVDpp
        except ImportError as exc:
            raise NotInstalled("scikit-surprise") from exc
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
            for u, i, r in zip(task.users, task.items, task.ratings, strict=True):
                f.write(f"{u}\t{i}\t{r}\n")
        try:
            data = Dataset.load_from_file(f.name, Reader(line_format="user item rating", sep="\t"))
            trainset = data.build_full_trainset()
        finally:
            os.unlink(f.name)
        model = (SVD(random_state=0) if algo == "svd" else SVDpp(random_state=0)).fit(trainset)
        return lambda users, items: np.array([model.predict(str(u), str(i)).est for u, i in zip(users, items,
                                                                                                   strict=True)])
    return fit_task


surprise_svd = _surprise("svd")
surprise_svdpp = _surprise("svdpp")
