"""What the Adam solver (``model.fit_adam``) minimises and early-stops on: the rating loss (squared error) and
the ranking loss (a softmax over the catalog, full or sampled), each with L2 on the per-id offsets and decay on
the text maps; the validation figures (RMSE, recall at 20 with the training items excluded)."""

from __future__ import annotations

import math

import numpy as np
import torch


def rating_loss(model, u, i, r, w, data, p, gen):
    pu, bu = model.user(u)
    qi, bi = model.item(i)
    pred = model.mu + bu + bi + (pu * qi).sum(-1)
    loss = ((pred - r) ** 2 + offset_reg(model, u, i, p.reg)).mean()
    return loss + map_decay(model, p)


def ranking_loss(model, u, i, r, w, data, p, gen):
    n_items = data.n_items
    if n_items <= p.full_softmax_items:
        # A user's softmax normaliser is the same for each of their events, so the (batch x catalog) scores are
        # computed once per distinct user in the batch (ML-100K: 337 rows for 512 events): the same loss and
        # gradients as a row per event, a third less work.
        users, row = torch.unique(u, return_inverse=True)
        pu, _ = model.user(users)
        q, b = model.item.all()
        logits = torch.addmm(b + model.unseen_logit, pu, q.T).float()  # one pass over the (users, catalog) scores
        nll = torch.logsumexp(logits, dim=1)[row] - logits[row, i]
    else:  # sampled softmax: each event's positive against shared uniform negatives (log-Q correction a constant)
        pu, _ = model.user(u)
        neg = torch.randint(0, n_items, (p.negatives,), generator=gen).to(i.device)
        q, b = model.item(torch.cat([i, neg]))  # one gather and one text map for both
        positive = (pu * q[: len(i)]).sum(-1) + b[: len(i)]
        negatives = torch.addmm(b[len(i):] + model.unseen_logit[neg] - math.log(p.negatives / n_items), pu,
                                q[len(i):].T)
        logits = torch.cat([positive.unsqueeze(1), negatives], 1).float()  # the positive in column 0
        nll = torch.logsumexp(logits, dim=1) - logits[:, 0]
    loss = (w * (nll + offset_reg(model, u, i, p.reg))).sum() / w.sum().clamp(min=1e-12)
    return loss + map_decay(model, p)


def offset_reg(model, u, i, reg: float):
    """Per event: L2 on the user's and item's offsets (factors and bias)."""
    return reg * (model.user.offsets(u).pow(2).sum(-1) + model.item.offsets(i).pow(2).sum(-1))


def map_decay(model, p):
    total = 0.0
    for side in (model.user, model.item):
        if side.map is not None:
            total = total + p.reg_map * side.map.weight.pow(2).sum()
    return total


def val_rmse(model, data, train_rows, val_rows) -> float:
    device = model.mu.device
    u = torch.as_tensor(data.users[val_rows], device=device)
    i = torch.as_tensor(data.items[val_rows], device=device)
    pu, bu = model.user(u)
    qi, bi = model.item(i)
    pred = (model.mu + bu + bi + (pu * qi).sum(-1)).clamp(1, 5).cpu()
    return float(torch.sqrt(((pred - torch.as_tensor(data.ratings[val_rows])) ** 2).mean()))


def val_recall(model, data, train_rows, val_rows, k: int = 20, chunk: int = 256) -> float:
    """Share of validation events in their user's top k, training items excluded. Users go in chunks: a
    large catalog never needs a (validation users x catalog) matrix at once (2,000 x 1M floats is 8 GB).
    Below 100 items the top k is a fifth of the catalog (``val_recall@20`` keeps its name): on a 32-item shop
    the top 20 held every validation event from the first epoch, and early stopping kept that first epoch."""
    k = max(1, min(k, data.n_items // 5))
    q, b = model.item.all()
    train_users, train_items = data.users[train_rows], data.items[train_rows]
    hits = 0
    for rows in np.array_split(val_rows, math.ceil(len(val_rows) / chunk)):
        users = data.users[rows]
        pu, _ = model.user(torch.as_tensor(users, device=q.device))
        scores = (pu @ q.T + b).float().cpu()
        pos = {u: n for n, u in enumerate(users)}
        keep = np.isin(train_users, users)
        scores[[pos[u] for u in train_users[keep]], train_items[keep]] = -torch.inf
        top = scores.topk(min(k, scores.shape[1]), dim=1).indices
        hits += int((top == torch.as_tensor(data.items[rows]).unsqueeze(1)).any(1).sum())
    return hits / len(val_rows)
