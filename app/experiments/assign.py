"""Sticky assignment of shoppers to an experiment's variants.

A shopper must see the same variant on every request, from every worker process, after every restart, or the
experiment measures a mix. Python's ``hash()`` is salted per process, so the bucket comes from BLAKE2b of the
experiment id and the shopper id instead: the same two strings give the same variant everywhere, and a new
experiment id reshuffles everyone independently of earlier experiments."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_SCALE = float(1 << 64)


def unit_of(*parts: str) -> float:
    """A stable number in [0, 1) for the given strings (joined by NUL, so ("ab", "c") and ("a", "bc") differ)."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def seed_of(*parts: str) -> int:
    """A stable 64-bit seed for the given strings: the service seeds ``team_draft`` with the recommendation's id,
    so a logged interleaved list can be rebuilt exactly."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def variant_of(experiment_id: str, shopper: str, weights: Sequence[float]) -> int:
    """The index of the variant ``shopper`` sees in ``experiment_id``: the stable number of the pair, bucketed by
    the cumulative normalised ``weights`` (e.g. ``[0.5, 0.5]``, or ``[0.9, 0.1]`` for a cautious start).

    Changing the weights mid-experiment moves shoppers near the bucket edges; start a new experiment id instead."""
    if not weights or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    u = unit_of(experiment_id, shopper) * sum(weights)
    edge = 0.0
    for index, w in enumerate(weights):
        edge += w
        if u < edge:
            return index
    return max(i for i, w in enumerate(weights) if w > 0)  # u within rounding of the total
