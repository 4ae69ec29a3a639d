"""An inner-product index over item vectors, with an eligibility filter applied inside the search.

Vectors are ``[q_i, b_i]`` (the bias folded in as one more dimension) and queries ``[p_u, 1]``, so the inner
product is the model's score. Small catalogs get an exact ``IndexFlatIP``; above ``exact_max`` items an
``IndexHNSWFlat`` (graph search, recall measured by scripts/bench_serving.py). Built once per model version,
saved beside it (temp name, fsync, rename), never modified afterwards: a new version means a new index.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import faiss
import numpy as np

EXACT_MAX = 50_000
GROUPED_MAX_BYTES = 64 * 1024 * 1024  # a grouped copy of at most this (about 250k items at 64 factors)
EF_SEARCH = 64  # HNSW candidate list per query: its recall against exact search in docs/serving.md


class ItemIndex:
    def __init__(self, index: faiss.Index, vectors: np.ndarray, ef_search: int | None = None):
        self.index = index
        self.vectors = vectors  # kept for exact fallbacks and for rank()
        self.exact = isinstance(index, faiss.IndexFlat)
        self._grouped: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (order, slot, vectors[order])
        if ef_search is not None and not self.exact:
            index.hnsw.efSearch = ef_search  # a search-time knob: the saved graph stays as built

    def group_by(self, keys: np.ndarray, max_bytes: int = GROUPED_MAX_BYTES) -> None:
        """Keep a copy of the vectors ordered by ``keys`` (one per item: its category), which ``score_rows``
        reads. A filter's candidates (a category, a price band within it) are rows scattered over the matrix,
        and gathering them from memory the cache has not seen was most of a filtered list's time (0.38 ms for
        4,000 of 100,000 rows; docs/serving.md); in the grouped copy they are a few contiguous runs, and where
        they are most of the span they lie in, the product over that span (a view: nothing gathered) is cheaper
        still. Only a layout: any ``keys`` give the same scores. Skipped above ``max_bytes``."""
        if self.vectors.nbytes > max_bytes or len(keys) != len(self.vectors):
            self._grouped = None
            return
        order = np.argsort(keys, kind="stable")
        slot = np.empty(len(order), np.int64)
        slot[order] = np.arange(len(order))
        self._grouped = (order, slot, np.ascontiguousarray(self.vectors[order]))

    def score_rows(self, rows: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores): ``vectors[rows] @ query`` for item positions ``rows``, returned in an order of the
        index's choosing (the grouped copy's, where ``group_by`` made one; else as given)."""
        grouped = self._grouped
        if grouped is None or _most_of(rows, self.vectors):  # most rows: one pass over the whole matrix
            return rows, products(self.vectors, rows, query)
        order, slot, vectors = grouped
        slots = np.sort(slot[rows])
        if not len(slots):
            return rows, np.zeros(0, np.float32)
        first = int(slots[0])  # the rows' span in the grouped copy: most of it, for a category and a price band
        return order[slots], products(vectors[first: int(slots[-1]) + 1], slots - first, query)

    @classmethod
    def build(cls, vectors: np.ndarray, exact_max: int = EXACT_MAX, hnsw_m: int = 32,
              ef_construction: int = 200, ef_search: int = EF_SEARCH) -> ItemIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        if n <= exact_max:
            index = faiss.IndexFlatIP(d)
        else:
            index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        index.add(vectors)
        return cls(index, vectors)

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, queries: np.ndarray, k: int, eligible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions), each (m, k'); k' <= k where fewer items are eligible. ``eligible`` is a bool
        mask over item positions; the exact index and HNSW both apply it during the search."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, len(self))
        params = None
        if eligible is not None:
            bitmap = np.packbits(eligible, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(eligible), faiss.swig_ptr(bitmap))
            params = (faiss.SearchParameters(sel=selector) if self.exact
                      else faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.index.hnsw.efSearch, 2 * k)))
        scores, positions = self.index.search(queries, k, params=params)
        if eligible is not None:
            del bitmap  # kept alive until here: FAISS reads it during the search
        return scores, positions

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            faiss.write_index(self.index, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)  # the rename itself survives a power cut only once the folder is synced
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, ef_search: int | None = None) -> ItemIndex:
        """The saved index with its vectors memory-mapped read-only (``IO_FLAG_MMAP_IFC``): every process that
        serves the version shares the file's pages. ``vectors`` is a read-only view of them. An HNSW graph's
        links are still read into each process (FAISS maps only the vectors)."""
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        flat = index if isinstance(index, faiss.IndexFlat) else faiss.downcast_index(index.storage)
        return cls(index, np.asarray(_Pinned(index, flat)), ef_search)


class _Pinned:
    """An index's stored vectors as an array that keeps the index alive: a bare pointer into FAISS's memory
    would dangle once the index is freed (another version swapped in) while a request still holds the array."""

    def __init__(self, index: faiss.Index, flat: faiss.IndexFlat) -> None:
        self.index = index
        view = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
        self.__array_interface__ = {**view.__array_interface__, "data": (view.ctypes.data, True)}  # read-only


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def products(matrix: np.ndarray, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix[rows] @ vector`` without copying the rows out when they are most of the matrix (a conversation's
    candidates, a long rank list): the product over every row is then cheaper than the gather."""
    if _most_of(rows, matrix):
        return (matrix @ vector)[rows]
    return matrix[rows] @ vector


def _most_of(rows: np.ndarray, matrix: np.ndarray) -> bool:
    """A quarter of the rows or more: a product over the whole matrix is cheaper than gathering them."""
    return len(rows) * 4 >= len(matrix)
