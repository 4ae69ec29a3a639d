"""Hybrid matrix factorization in PyTorch, fitted by Adam (``app.trainer.fit`` picks this solver or the Gibbs
sampler in ``app.trainer.bayes``).

Score: r̂(u, i) = μ + b_u + b_i + p_u · q_i, where an item's factors and bias are ``[q_i, b_i] = W·e_i + δ_i``:
``e_i`` is its (centred) text vector, ``W`` a learned linear map shared by all items and ``δ_i`` a regularised
per-item offset; users the same with their own map. An item or user known only by text gets ``W·e``.

Objectives: ``rating`` (explicit 1-5: the regularised squared error) and ``ranking`` (implicit events: softmax
over the catalog, the full one when it is small, else sampled negatives with a log-Q correction; each event
weighted by its type, a rating by its value too).

Initialisation (``init="semantic"``): ``W`` starts as the top-k PCA directions of the item text vectors, scaled
to the initialisation scale, so the starting item factors are the text's principal coordinates; a user without
text starts at the mean of their items' starting factors. ``init="random"`` ignores text (the ablation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from app.trainer import objectives
from app.trainer.types import Factors, TrainData, TrainingDiverged, TrainParams

SPARSE_ROWS = 20_000  # a table with more rows than this trains sparsely (see _Optimizer); ML-100K's do not
DIVERGED = 100.0  # an epoch's loss above this many times the starting loss (or 1) stops the fit as diverged


class HybridMF(nn.Module):
    def __init__(self, data: TrainData, p: TrainParams, gen: torch.Generator, rows: np.ndarray | None = None):
        """``rows``: the events the fit trains on (default all): a user without text starts at their items
        among these only, so a held-out event never places its own user."""
        super().__init__()
        k, s = p.factors, p.init_scale
        # The full softmax reads every item's row each batch; otherwise a batch touches only its own rows.
        items_whole = p.objective == "ranking" and data.n_items <= p.full_softmax_items
        self.item = _Side(data.n_items, k, data.item_text, data.item_has_text, p, gen,
                          sparse=data.n_items > SPARSE_ROWS and not items_whole)
        self.user = _Side(data.n_users, k, data.user_text, data.user_has_text, p, gen,
                          sparse=data.n_users > SPARSE_ROWS)
        self.mu = nn.Parameter(torch.zeros(()))
        if p.init == "semantic" and self.item.map is not None:
            self.item.init_from_pca(s)
            if self.user.map is not None:
                self.user.init_from_pca(s)
        if p.init == "semantic":
            self._users_start_at_their_items(data, np.arange(len(data.users)) if rows is None else rows)

    @torch.no_grad()
    def _users_start_at_their_items(self, data: TrainData, rows: np.ndarray) -> None:
        """A user without text starts at the mean starting factors of the items they interacted with."""
        if len(rows) == 0:
            return
        users = torch.as_tensor(data.users[rows])
        q, _ = self.item.all()
        sums = torch.zeros(data.n_users, q.shape[1]).index_add_(0, users, q[torch.as_tensor(data.items[rows])])
        counts = torch.bincount(users, minlength=data.n_users).clamp(min=1).unsqueeze(1)
        mean = sums / counts
        no_text = ~self.user.has_text if self.user.has_text is not None else torch.ones(data.n_users, dtype=torch.bool)
        self.user.delta.weight[no_text, :-1] = mean[no_text]


class _Side(nn.Module):
    """One side (users or items): per-id offsets δ (factors and bias in one table), optional text map W."""

    def __init__(self, n: int, k: int, text: np.ndarray | None, has_text: np.ndarray | None, p: TrainParams,
                 gen: torch.Generator, sparse: bool = False):
        super().__init__()
        self.k = k
        self.delta = nn.Embedding(n, k + 1, sparse=sparse)
        with torch.no_grad():
            self.delta.weight.normal_(0, p.init_scale, generator=gen)
            self.delta.weight[:, -1] = 0
        self.map = None
        self.semantic_only = p.init == "semantic" and not p.text_map
        for name in ("text", "has_text", "text_mean"):  # buffers: they move to the device with the model
            self.register_buffer(name, None)
        if text is not None and has_text is not None and has_text.any() and (p.text_map or p.init == "semantic"):
            t = torch.as_tensor(text, dtype=torch.float32)
            mask = torch.as_tensor(has_text)
            self.text_mean = t[mask].mean(0)
            self.text = torch.where(mask.unsqueeze(1), t - self.text_mean, torch.zeros_like(t))
            self.has_text = mask
            self.map = nn.Linear(t.shape[1], k + 1, bias=False)
            with torch.no_grad():
                self.map.weight.zero_()

    @torch.no_grad()
    def init_from_pca(self, scale: float) -> None:
        x = self.text[self.has_text]
        k = min(self.k, x.shape[0], x.shape[1])
        _, _, v = torch.linalg.svd(x, full_matrices=False)
        components = v[:k]  # (k, d)
        coords = x @ components.T
        spread = float(coords.std()) if coords.numel() > 1 else 0.0  # (the std of one number is NaN)
        if not spread > 1e-6:  # one text, or all alike: no direction to start from, the map starts at zero
            if self.semantic_only:
                self.map = None
            return
        self.map.weight[:k] = components * (scale / spread)
        self.delta.weight[self.has_text, :-1] = 0  # start exactly at the text's coordinates
        if self.semantic_only:  # no map to learn: bake the projection into the offsets and drop the map
            self.delta.weight[:, :-1] += self.text @ self.map.weight[:-1].T
            self.map = None

    @torch.no_grad()
    def set_text(self, text: np.ndarray | None, has_text: np.ndarray | None) -> None:
        """Read the rows by other text vectors (the refit after validation: the carved items with their
        reviews again, the users whose text was held back with it), centred on the mean the map was learned
        around. Each changed row's offset takes up the difference, so the scores go on from where validation
        left them and the refit's epochs move them from there."""
        if self.map is None or text is None or has_text is None:
            return
        t = torch.as_tensor(text, dtype=torch.float32, device=self.text.device)
        mask = torch.as_tensor(has_text, device=self.text.device)
        before = self.map(self.text)
        self.text = torch.where(mask.unsqueeze(1), t - self.text_mean, torch.zeros_like(t))
        self.has_text = mask
        self.delta.weight.add_(before - self.map(self.text))

    def forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.delta(idx)
        if self.map is not None:
            out = out + self.map(self.text[idx])
        return out[:, :-1], out[:, -1]

    def offsets(self, idx: torch.Tensor) -> torch.Tensor:
        return self.delta(idx)

    def all(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every row: the tables themselves, without a gather (the full softmax asks for this every batch).
        A sparse table is read whole only for validation and export, without gradients."""
        out = self.delta.weight if self.map is None else self.delta.weight + self.map(self.text)
        return out[:, :-1], out[:, -1]


def starting_point(data: TrainData, p: TrainParams, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(item factors, user factors) this model starts from (semantic or random): the Gibbs sampler's start too."""
    with torch.no_grad():
        start = HybridMF(data, p, gen)
        return start.item.all()[0].numpy(), start.user.all()[0].numpy()


def fit_adam(data: TrainData, p: TrainParams, train_rows: np.ndarray, val_rows: np.ndarray,
             gen: torch.Generator, rng: np.random.Generator, callback: Callable[[dict], None] | None,
             refit: TrainData | None = None) -> Factors | tuple[Factors, Factors]:
    """Adam on ``p.objective`` (resolved) over ``train_rows``, early-stopped on ``val_rows``; ``data.weights``
    are the events' weights in the ranking loss. Raises TrainingDiverged once an epoch's loss is not finite.

    ``refit``: the same events and more (every one of them, with their own texts): the early-stopped model is
    exported as it is (what the validation scores), then trained on for ``p.refit_epochs`` (None: a quarter of
    the epochs it took, at least 1) over all of ``refit``'s events, and both are returned (validated, served).
    A continued fit, not a second one: the carved items and users catch up in a few epochs."""
    objective = p.objective
    device = torch.device(p.device)
    # Validating for a choice (``refit``), a user without text starts at their items among the fit's own
    # events only, or a held-out event would place its own user; a fit that serves as it is starts them at all
    # of theirs (its validation only stops it early).
    model = HybridMF(data, p, gen, train_rows if refit is not None else None).to(device)
    model.mu.data.fill_(float(np.mean(data.ratings[train_rows])) if objective == "rating" else 0.0)
    if objective == "ranking":
        model.mu.requires_grad_(False)
    optimizer = _Optimizer(model, p.lr)

    # Items without a single training event are new, not unpopular: keep them out of the softmax, and let
    # their factors come from the text map alone.
    seen = np.bincount(data.items[train_rows], minlength=data.n_items) > 0
    model.unseen_logit = torch.where(torch.as_tensor(seen, device=device), 0.0, -torch.inf)
    u_all = torch.as_tensor(data.users, device=device)
    i_all = torch.as_tensor(data.items, device=device)
    r_all = torch.as_tensor(np.nan_to_num(data.ratings), dtype=torch.float32, device=device)
    w_all = torch.as_tensor(data.weights, dtype=torch.float32, device=device)
    step = objectives.rating_loss if objective == "rating" else objectives.ranking_loss
    evaluate = objectives.val_rmse if objective == "rating" else objectives.val_recall
    val_key = "val_rmse" if objective == "rating" else "val_recall@20"
    best, best_state, stale, history, initial = math.inf, None, 0, [], None
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=_use_bf16(p, device))

    def one_epoch(rows: np.ndarray, data: TrainData, tensors: tuple) -> float:
        nonlocal initial
        model.train()
        order = torch.as_tensor(rng.permutation(rows), device=device)
        total = 0.0
        for batch in order.split(p.batch_size):
            with autocast:
                loss = step(model, *(t[batch] for t in tensors), data, p, gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
            initial = total / len(batch) if initial is None else initial  # the starting point's loss
        model.eval()
        return total

    best_epoch = 0
    for epoch in range(1, p.epochs + 1):
        start = time.perf_counter()
        total = one_epoch(train_rows, data, (u_all, i_all, r_all, w_all))
        with torch.no_grad():
            val = evaluate(model, data, train_rows, val_rows) if len(val_rows) else None
        record = {"epoch": epoch, "loss": total / max(1, len(train_rows)), "seconds": time.perf_counter() - start,
                  val_key: val}
        # Adam's steps are bounded by lr, so an absurd lr blows the loss up without making it infinite: a
        # loss a hundred times its starting value is divergence too.
        if not (math.isfinite(record["loss"]) and (val is None or math.isfinite(val))
                and record["loss"] <= DIVERGED * max(initial or 0.0, 1.0)):
            raise TrainingDiverged(f"training diverged: the {objective} loss is {record['loss']:.4g} at epoch "
                                   f"{epoch}, from {initial or 0:.4g} at the start ({val_key} {val}, lr {p.lr:g}); "
                                   "try a smaller lr")
        history.append(record)
        if callback:
            callback(record)
        score = -epoch if val is None else val if objective == "rating" else -val  # no validation: the latest
        if score < best - 1e-5:
            best, stale, best_epoch = score, 0, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= p.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    if refit is None:
        return _export(model, objective, history, np.bincount(data.items, minlength=data.n_items) > 0)
    validated = _export(model, objective, history, np.bincount(data.items[train_rows], minlength=data.n_items) > 0)
    model.item.set_text(refit.item_text, refit.item_has_text)
    model.user.set_text(refit.user_text, refit.user_has_text)
    model.unseen_logit = torch.where(torch.as_tensor(np.bincount(refit.items, minlength=refit.n_items) > 0,
                                                     device=device), 0.0, -torch.inf)
    tensors = (torch.as_tensor(refit.users, device=device), torch.as_tensor(refit.items, device=device),
               torch.as_tensor(np.nan_to_num(refit.ratings), dtype=torch.float32, device=device),
               torch.as_tensor(refit.weights, dtype=torch.float32, device=device))
    all_rows = np.arange(len(refit.users))
    epochs = p.refit_epochs if p.refit_epochs is not None else max(1, math.ceil(max(best_epoch, 1) / 4))
    for n in range(1, epochs + 1):
        start = time.perf_counter()
        total = one_epoch(all_rows, refit, tensors)
        record = {"epoch": len(history) + 1, "loss": total / max(1, len(all_rows)),
                  "seconds": time.perf_counter() - start, val_key: None, "refit": n}
        if not (math.isfinite(record["loss"]) and record["loss"] <= DIVERGED * max(initial or 0.0, 1.0)):
            raise TrainingDiverged(f"training diverged: the {objective} refit's loss is {record['loss']:.4g}")
        history.append(record)
        if callback:
            callback(record)
    served = _export(model, objective, history, np.bincount(refit.items, minlength=refit.n_items) > 0)
    return validated, served


class _Optimizer:
    """Adam (one fused kernel for all dense parameters); tables above ``SPARSE_ROWS`` rows get sparse
    gradients and lazy Adam (``SparseAdam``: only the batch's rows move). Dense Adam steps every row of every
    table each batch, so its cost per event grows with the number of users and items: at 50,000 users and
    100,000 items it was 95 µs an event, against 52 µs at a tenth of both."""

    def __init__(self, model: nn.Module, lr: float) -> None:
        sparse = [m.weight for m in model.modules() if isinstance(m, nn.Embedding) and m.sparse]
        dense = [q for q in model.parameters() if all(q is not s for s in sparse)]
        self.parts = [torch.optim.Adam(dense, lr=lr, fused=True)]
        if sparse:
            self.parts.append(torch.optim.SparseAdam(sparse, lr=lr))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for part in self.parts:
            part.step()


def _use_bf16(p: TrainParams, device: torch.device) -> bool:
    """bfloat16 matrix products (parameters and the softmax stay float32) where the hardware has them: the
    ranking objective's (batch x catalog) products run about 2x faster, at the same validation recall."""
    if p.precision != "auto":
        return p.precision == "bf16"
    if p.objective != "ranking":  # the rating loss has no large products to speed up
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # private in torch 2.x: absent means no
    return device.type == "cpu" and native is not None and native()


@torch.no_grad()
def _export(model: HybridMF, objective: str, history: list[dict], seen: np.ndarray) -> Factors:
    model = model.cpu()
    q, bi = model.item.all()
    pu, bu = model.user.all()
    unseen = torch.as_tensor(~seen)
    if model.item.map is not None:  # never-seen items: what their text says, nothing more
        mapped = model.item.map(model.item.text)
        q[unseen], bi[unseen] = mapped[unseen, :-1], mapped[unseen, -1]
        no_text = unseen & ~model.item.has_text
    else:
        no_text = unseen
    q[no_text], bi[no_text] = 0.0, float(bi[torch.as_tensor(seen)].min()) if seen.any() else 0.0

    def side_map(side):
        if side.map is None:
            return None, None
        return side.map.weight.numpy().astype(np.float32).copy(), side.text_mean.numpy().astype(np.float32).copy()

    item_map, item_mean = side_map(model.item)
    user_map, user_mean = side_map(model.user)
    return Factors(objective=objective, mu=float(model.mu), user_factors=pu.numpy().copy(),
                   user_bias=bu.numpy().copy(), item_factors=q.numpy().copy(), item_bias=bi.numpy().copy(),
                   item_map=item_map, item_text_mean=item_mean, user_map=user_map, user_text_mean=user_mean,
                   history=history)
