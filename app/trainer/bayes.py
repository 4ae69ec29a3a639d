"""Bayesian matrix factorization for explicit ratings, by Gibbs sampling.

The model is the same biased MF, r̂ = μ + b_u + b_i + p_u·q_i, but instead of one regularised point estimate it
averages over the posterior (BPMF, Salakhutdinov & Mnih 2008): each sweep draws every user's ``[p_u, b_u]`` from
its Gaussian conditional given the items, then every item's, with Normal-Wishart hyper-priors drawn from the data.
Why: on the rating sizes a shop has, averaging beats any single tuned estimate (docs/evaluation.md, P1), and
there is no learning rate or regularisation weight to tune: the priors' precisions and the rating noise are
drawn from the data too.

Text enters as side information (as in Macau, Simm et al. 2015): a row's prior mean is ``μ + W·e`` with ``W`` a
ridge regression of the rows on their text vectors, refitted every sweep; an item or user known only by text gets
``μ + W·e``. The exported factors are the posterior means over the sweeps after burn-in.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from app.trainer.types import Factors, TrainData, TrainingDiverged, TrainParams

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

DTYPE = torch.float64  # the conditional precisions are Cholesky-factored: float32 loses too much there
SUMS = torch.float32  # ... but the per-row sums over ratings are 3-4x faster in float32, and exact enough


class _Side:
    """One side's rows ``θ = [factors, bias]`` and what is needed to draw them: the rating matrix with this
    side's rows (CSR), the hyper-prior, and optionally the text regression."""

    def __init__(self, n: int, n_other: int, k: int, rows: np.ndarray, cols: np.ndarray, text: np.ndarray | None,
                 has_text: np.ndarray | None, text_ridge: float):
        self.n, self.n_other, self.k = n, n_other, k
        self.order = torch.as_tensor(np.argsort(rows, kind="stable"))
        self.crow = torch.as_tensor(np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]))
        self.col = torch.as_tensor(cols)[self.order]
        self.ones = self._csr(torch.ones(len(rows), dtype=SUMS))
        self.theta = torch.zeros(n, k + 1, dtype=DTYPE)
        self.text = self.text_mean = self.map = self._ridge = None
        if text is not None and has_text is not None and has_text.any():
            t = torch.as_tensor(text, dtype=DTYPE)
            mask = torch.as_tensor(has_text)
            self.text_mean = t[mask].mean(0)
            self.text = torch.where(mask.unsqueeze(1), t - self.text_mean, torch.zeros_like(t))
            gram = self.text.T @ self.text + text_ridge * torch.eye(t.shape[1], dtype=DTYPE)
            self._ridge = torch.linalg.cholesky(gram)
            self.map = torch.zeros(k + 1, t.shape[1], dtype=DTYPE)
        self.mu = torch.zeros(k + 1, dtype=DTYPE)

    def _csr(self, values: torch.Tensor) -> torch.Tensor:
        """Values given in event order, as a (rows x other side) CSR matrix."""
        return torch.sparse_csr_tensor(self.crow, self.col, values[self.order], size=(self.n, self.n_other),
                                       check_invariants=False)  # built sorted from valid indexes above

    def draw(self, other_design: torch.Tensor, targets: torch.Tensor, alpha: float) -> None:
        """Hyper-prior, then every row from N(Λ*⁻¹(α Σ y x + Λ m), Λ*⁻¹), Λ* = Λ + α Σ x xᵀ, in one batch."""
        offset = torch.zeros_like(self.theta) if self.map is None else self.text @ self.map.T
        self.mu, lam = _normal_wishart(self.theta - offset)
        d = other_design.shape[1]
        x = other_design.to(SUMS)
        outer = (x.unsqueeze(2) * x.unsqueeze(1)).reshape(len(x), d * d)
        precision = lam + alpha * torch.sparse.mm(self.ones, outer).to(DTYPE).reshape(self.n, d, d)
        rhs = alpha * torch.sparse.mm(self._csr(targets.to(SUMS)), x).to(DTYPE) + (self.mu + offset) @ lam
        chol = torch.linalg.cholesky(precision)
        mean = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        noise = torch.linalg.solve_triangular(chol.mT, torch.randn(self.n, d, 1, dtype=DTYPE), upper=True)
        self.theta = mean + noise.squeeze(-1)
        if self.map is not None:  # W: ridge regression of the rows (less their mean) on their text
            self.map = torch.cholesky_solve(self.text.T @ (self.theta - self.mu), self._ridge).T

    def design(self) -> torch.Tensor:
        """What the other side regresses on: ``[factors, 1]`` (the 1 carries this side's bias)."""
        return torch.cat([self.theta[:, : self.k], torch.ones(self.n, 1, dtype=DTYPE)], 1)


def _normal_wishart(x: torch.Tensor, beta0: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw (μ, Λ) from the Normal-Wishart posterior given rows ``x`` (prior: μ0 = 0, β0, ν0 = d, W0 = I)."""
    n, d = x.shape
    mean = x.mean(0)
    centred = x - mean
    scatter = centred.T @ centred
    w_inv = torch.eye(d, dtype=DTYPE) + scatter + (beta0 * n / (beta0 + n)) * torch.outer(mean, mean)
    w = torch.linalg.inv(w_inv)
    lam = _wishart(d + n, torch.linalg.cholesky((w + w.T) / 2))
    cov = torch.linalg.inv((beta0 + n) * lam)
    mu = torch.distributions.MultivariateNormal(n * mean / (beta0 + n), covariance_matrix=(cov + cov.T) / 2).sample()
    return mu, lam


def _wishart(df: int, scale_tril: torch.Tensor) -> torch.Tensor:
    """One Wishart(df, LLᵀ) draw by the Bartlett decomposition. (torch's own ``Wishart.rsample`` in 2.13 takes
    every valid draw for a singular one: it warns and draws twice each time.)"""
    d = scale_tril.shape[0]
    a = torch.diag(torch.distributions.Chi2(torch.arange(df, df - d, -1, dtype=DTYPE)).sample().sqrt())
    rows, cols = torch.tril_indices(d, d, -1)
    a[rows, cols] = torch.randn(len(rows), dtype=DTYPE)
    la = scale_tril @ a
    return la @ la.T


def fit_gibbs(data: TrainData, p: TrainParams, train_rows: np.ndarray, val_rows: np.ndarray,
              start: tuple[np.ndarray, np.ndarray], callback: Callable[[dict], None] | None) -> Factors:
    """Sample ``p.epochs`` sweeps (the first ``p.burn_in`` only warm up); stop early once the averaged
    prediction on the validation rows has not improved for ``5 * p.patience`` sweeps (one more draw moves an
    average of n draws by 1/n: patience is counted in steps of five sweeps)."""
    k = p.factors
    u, i = data.users[train_rows], data.items[train_rows]
    ratings = torch.as_tensor(data.ratings[train_rows], dtype=DTYPE)
    mu_r = float(ratings.mean())
    centred = ratings - mu_r
    use_text = p.text_map
    users = _Side(data.n_users, data.n_items, k, u, i, data.user_text if use_text else None, data.user_has_text,
                  p.text_ridge)
    items = _Side(data.n_items, data.n_users, k, i, u, data.item_text if use_text else None, data.item_has_text,
                  p.text_ridge)
    items.theta[:, :k] = torch.as_tensor(start[0], dtype=DTYPE)
    users.theta[:, :k] = torch.as_tensor(start[1], dtype=DTYPE)
    ut, it = torch.as_tensor(u), torch.as_tensor(i)
    vu, vi = torch.as_tensor(data.users[val_rows]), torch.as_tensor(data.items[val_rows])
    val_truth = torch.as_tensor(data.ratings[val_rows], dtype=DTYPE)
    val_sum = torch.zeros(len(val_rows), dtype=DTYPE)
    sums = {"users": torch.zeros_like(users.theta), "items": torch.zeros_like(items.theta)}
    maps = {"users": None, "items": None}
    drawn, best, stale, history = 0, math.inf, 0, []
    alpha = p.noise_precision or 1.0

    for sweep in range(1, p.epochs + 1):
        began = time.perf_counter()
        users.draw(items.design(), centred - items.theta[it, k], alpha)
        items.draw(users.design(), centred - users.theta[ut, k], alpha)
        sse = float(((_predict(users.theta, items.theta, ut, it, k) - centred) ** 2).sum())
        if p.noise_precision is None:  # α | residuals ~ Gamma(1 + n/2, 1 + SSE/2)
            alpha = float(torch.distributions.Gamma(1 + len(u) / 2, 1 + sse / 2).sample())
        if not math.isfinite(sse):
            raise TrainingDiverged(f"training diverged: the rating model's squared error is {sse:.4g} at sweep "
                                   f"{sweep}")
        train_rmse = math.sqrt(sse / max(1, len(u)))
        record = {"epoch": sweep, "loss": train_rmse, "noise_precision": alpha}
        if sweep > p.burn_in:
            drawn += 1
            sums["users"] += users.theta
            sums["items"] += items.theta
            for name, side in (("users", users), ("items", items)):
                if side.map is not None:
                    add = torch.cat([side.map, side.mu.unsqueeze(1)], 1)
                    maps[name] = add if maps[name] is None else maps[name] + add
            val_sum += _predict(users.theta, items.theta, vu, vi, k)
        if len(val_rows):
            current = val_sum / drawn if drawn else _predict(users.theta, items.theta, vu, vi, k)
            record["val_rmse"] = float((((current + mu_r).clamp(1, 5) - val_truth) ** 2).mean().sqrt())
        else:
            record["val_rmse"] = train_rmse
        record["seconds"] = time.perf_counter() - began
        history.append(record)
        if callback:
            callback(record)
        if drawn:
            if record["val_rmse"] < best - 1e-5:
                best, stale = record["val_rmse"], 0
            else:
                stale += 1
                if stale >= 5 * p.patience:
                    break

    drawn = max(drawn, 1)
    if not sums["users"].any():  # stopped before burn-in ended: the last draw is all there is
        sums = {"users": users.theta, "items": items.theta}
    pu, qi = (sums[name] / drawn for name in ("users", "items"))

    def side_map(name: str, side: _Side):
        if maps[name] is None:
            return None, None, None
        avg = maps[name] / drawn  # (k + 1, d + 1): the map and, in the last column, the mean it adds to
        return (avg[:, :-1].numpy().astype(np.float32), side.text_mean.numpy().astype(np.float32),
                avg[:, -1].numpy().astype(np.float32))

    item_map, item_mean, item_offset = side_map("items", items)
    user_map, user_mean, user_offset = side_map("users", users)
    return Factors(objective="rating", mu=mu_r, user_factors=pu[:, :k].numpy().astype(np.float32),
                   user_bias=pu[:, k].numpy().astype(np.float32), item_factors=qi[:, :k].numpy().astype(np.float32),
                   item_bias=qi[:, k].numpy().astype(np.float32), item_map=item_map, item_text_mean=item_mean,
                   item_map_offset=item_offset, user_map=user_map, user_text_mean=user_mean,
                   user_map_offset=user_offset, history=history)


def _predict(pu: torch.Tensor, qi: torch.Tensor, u: torch.Tensor, i: torch.Tensor, k: int) -> torch.Tensor:
    a, b = pu[u], qi[i]
    return (a[:, :k] * b[:, :k]).sum(1) + a[:, k] + b[:, k]
