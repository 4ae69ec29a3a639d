"""An EASE term next to the factors (Steck 2019), low-rank so that the same inner product serves it.

EASE scores ``x_u B`` with B = I - P diag(1/diag P), P = (XᵀX + λI)⁻¹: a dense items x items solve, and not an
inner product of two short vectors. With the rank-r SVD X ≈ U S Vᵀ, P = V diag(1/(s²+λ)) Vᵀ + (I - VVᵀ)/λ, and
for an item the user has not had (the only ones ranked)

    score(u, j) ∝ x_u V diag(s² / (s² + λ)) · V_j d_j,   d_j = 1 / (1 - Σ_k V_jk² s_k² / (s_k² + λ)),

so the user side is x_u V diag(s²/(s²+λ)) and the item side V_j d_j (r columns each); at rank 128 it ranks as
the exact EASE does (docs/training.md, ``scripts/analyse_ease.py``). Each user's part is scaled to the spread
of their factor scores, then by the blend weight, as the item-kNN term's is. The shop's carve chooses λ and the
weight (``app.trainer.selection``); by default (weight 0) nothing is appended.

    factors, info = widen(data, factors, params, base)
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import svds

from app.trainer import terms
from app.trainer.types import Factors, TrainData, TrainParams

LAMBDAS = (50.0, 200.0, 800.0)  # the carve picks one (the exact EASE's own choice: 500 ML-100K, 100 Gift Cards)


def widen(data: TrainData, factors: Factors, p: TrainParams, base: Factors) -> tuple[Factors, dict]:
    rank = min(p.neighbourhood_rank, data.n_users - 1, data.n_items - 1)
    info = {"rank": max(rank, 0), "weight": float(p.ease_weight), "lambda": float(p.ease_lambda)}
    if rank < 1 or p.ease_weight <= 0:
        return factors, {**info, "weight": 0.0}
    x = terms.binary(data)
    v, s = spectrum(x, rank, p.seed)
    user_side, item_side = sides(x, v, s, p.ease_lambda)
    scale = terms.scales(base, np.arange(data.n_users), user_side, item_side, terms.sample_items(data.n_items))
    user_side *= (p.ease_weight * scale)[:, None]
    return terms.appended(factors, user_side.astype(np.float32), item_side.astype(np.float32)), info


def spectrum(x: csr_matrix, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(V, s) of the rank-``rank`` SVD of the binary users x items matrix: one decomposition for every λ."""
    _, s, vt = svds(x.astype(np.float64), k=rank, random_state=seed)
    return vt.T, s


def sides(x: csr_matrix, v: np.ndarray, s: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """(every user's side, every item's side) of the term at ``lam``."""
    shrink = s**2 / (s**2 + lam)
    d = 1.0 / np.maximum(1.0 - (v**2 * shrink).sum(1), 1e-6)
    return np.asarray(x @ v) * shrink, v * d[:, None]
