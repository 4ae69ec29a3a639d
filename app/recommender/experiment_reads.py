"""The running experiments as serving holds them, read with the rules when the served state refreshes.

Every experiment write bumps the serving epoch, so they are read again only on a refresh that finds a newer
epoch (a few rows), never per request. Serving keeps them by route: a list route with no experiment costs one
dict lookup on the state; the start and end of each are checked per answer (a time passing moves no epoch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.store import experiments as store


@dataclass(frozen=True)
class Variant:
    """One arm: its name, the model version it serves (None: the active one), the diversity it imposes (None:
    the request's) and whether the merchandising rules act on its lists."""

    name: str
    model_version: str | None = None
    diversity: float | None = None
    rules: bool = True
    weight: float = 1.0


@dataclass(frozen=True)
class Running:
    experiment_id: str
    method: str  # ab | interleaving
    variants: tuple[Variant, ...]
    starts_at: float | None = None  # seconds since the epoch
    ends_at: float | None = None

    @property
    def weights(self) -> tuple[float, ...]:
        return tuple(v.weight for v in self.variants)

    def live(self, now: float) -> bool:
        return (self.starts_at is None or self.starts_at <= now) and (self.ends_at is None or now < self.ends_at)


def _seconds(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None


def from_row(row) -> Running:
    variants = tuple(Variant(v["name"], v.get("model_version"), (v.get("params") or {}).get("diversity"),
                             (v.get("params") or {}).get("rules", True) is not False, float(v.get("weight", 1.0)))
                     for v in row.variants)
    return Running(row.experiment_id, row.method, variants, _seconds(row.starts_at), _seconds(row.ends_at))


def load(session: Session, old: dict[str, tuple[Running, ...]] | None, epoch_moved: bool
         ) -> dict[str, tuple[Running, ...]]:
    """Route -> its running and scheduled experiments (their windows do not overlap, so at most one is live at
    any time): ``old`` itself when nothing moved, else read again."""
    if old is not None and not epoch_moved:
        return old
    by_route: dict[str, tuple[Running, ...]] = {}
    for row in store.running(session):
        experiment = from_row(row)
        for route in row.routes:
            by_route[route] = by_route.get(route, ()) + (experiment,)
    return by_route
