"""The FAISS item index: the HNSW graph agrees with exact search, honours the eligibility filter, and takes
its search breadth (efSearch) from the setting at load time rather than from the saved file."""

import numpy as np
import pytest

from app.index.faiss_index import EF_SEARCH, ItemIndex


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 1, (20, 16))
    x = centers[rng.integers(0, 20, 5000)] + rng.normal(0, 0.7, (5000, 16))
    return np.hstack([x, rng.normal(0, 0.5, (5000, 1))]).astype(np.float32)


def _queries(n: int = 200) -> np.ndarray:
    q = np.random.default_rng(1).normal(0, 1, (n, 17)).astype(np.float32)
    q[:, -1] = 1.0  # [p_u, 1]: the bias dimension always counts
    return q


def test_hnsw_agrees_with_exact_search(vectors):
    hnsw, exact = ItemIndex.build(vectors, exact_max=0), ItemIndex.build(vectors, exact_max=len(vectors))
    assert not hnsw.exact and exact.exact
    _, approx = hnsw.search(_queries(), 10)
    _, truth = exact.search(_queries(), 10)
    recall = np.mean([len(set(a) & set(t)) / 10 for a, t in zip(approx, truth, strict=True)])
    assert recall >= 0.95


def test_hnsw_search_never_returns_an_ineligible_item(vectors):
    index = ItemIndex.build(vectors, exact_max=0)
    eligible = np.random.default_rng(2).random(len(vectors)) < 0.3
    _, positions = index.search(_queries(50), 10, eligible)
    found = positions[positions >= 0]
    assert len(found) > 0 and eligible[found].all()


def test_ef_search_comes_from_the_setting_not_the_file(vectors, tmp_path):
    index = ItemIndex.build(vectors, exact_max=0)
    assert index.index.hnsw.efSearch == EF_SEARCH
    index.save(tmp_path / "i.faiss")
    assert ItemIndex.load(tmp_path / "i.faiss", ef_search=200).index.hnsw.efSearch == 200
    assert ItemIndex.load(tmp_path / "i.faiss").index.hnsw.efSearch == EF_SEARCH


def test_a_grouped_copy_scores_the_same_rows_alike(vectors):
    rng = np.random.default_rng(2)
    index = ItemIndex.build(vectors, exact_max=len(vectors))
    query = _queries(1)[0]
    rows = np.sort(rng.choice(len(vectors), 700, replace=False))
    plain_rows, plain = index.score_rows(rows, query)
    assert np.array_equal(plain_rows, rows) and np.allclose(plain, vectors[rows] @ query, atol=1e-5)
    categories = rng.integers(0, 12, len(vectors))
    index.group_by(categories)
    grouped_rows, grouped = index.score_rows(rows, query)
    assert sorted(grouped_rows.tolist()) == rows.tolist() and not np.array_equal(grouped_rows, rows)
    assert np.allclose(grouped, vectors[grouped_rows] @ query, atol=1e-5)
    in_one = np.flatnonzero(categories == 3)[::2]  # half a category's items: the product over their run
    got_rows, got = index.score_rows(in_one, query)
    assert np.array_equal(np.sort(got_rows), in_one) and np.allclose(got, vectors[got_rows] @ query, atol=1e-5)
    none_rows, none = index.score_rows(np.zeros(0, np.int64), query)
    assert len(none_rows) == len(none) == 0
    many = np.arange(0, len(vectors), 2)  # half the catalog: one product over every row, as given
    assert np.array_equal(index.score_rows(many, query)[0], many)
    index.group_by(categories, max_bytes=vectors.nbytes - 1)  # over the bound: no copy, rows as given
    assert np.array_equal(index.score_rows(rows, query)[0], rows)
