"""The online figures of the answers shown in a period, per model version, variant or route: item impressions
and the clicks, carts and purchases credited to them (app.measure.attribution), with Wilson intervals.

Definitions (docs/online.md): ``impressions`` counts the items shown (rows) in [start, end); ``clicks``
(``carts``, ``purchases``) counts the distinct (answer, item) pairs of those impressions that a credited event of
that type names, so a shopper's second click on the same shown item counts once and ``ctr`` = clicks /
impressions is a share of items shown; ``conversion`` = purchases / impressions. An event counts for the period of
the impression it is credited to, whenever it came (within the attribution window). Two queries a call (three
with a bucket); both read the impressions by ``shown_at``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.experiments.stats import wilson
from app.store.models import Impression, Interaction, ModelActivation

KEYS = {"version": Impression.model_version, "variant": Impression.variant, "route": Impression.route}
CREDITED = ("click", "cart", "purchase")
SQLITE_BUCKETS = {"hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}


@dataclass
class Counts:
    impressions: int = 0
    click: int = 0
    cart: int = 0
    purchase: int = 0

    def figures(self) -> dict:
        ctr_lo, ctr_hi = wilson(self.click, self.impressions)
        conv_lo, conv_hi = wilson(self.purchase, self.impressions)
        return {"impressions": self.impressions, "clicks": self.click, "carts": self.cart,
                "purchases": self.purchase, "ctr": _share(self.click, self.impressions),
                "conversion": _share(self.purchase, self.impressions),
                "ci95": {"ctr": [ctr_lo, ctr_hi], "conversion": [conv_lo, conv_hi]}}


@dataclass
class Group:
    key: str | None
    total: Counts = field(default_factory=Counts)
    series: dict[datetime, Counts] = field(default_factory=lambda: defaultdict(Counts))


def _share(successes: int, trials: int) -> float:
    return successes / trials if trials else 0.0


def figures(session: Session, by: str, start: datetime, end: datetime, bucket: str | None = None) -> list[dict]:
    """Each group's figures (and, with ``bucket`` "hour" or "day", its ``series`` in UTC buckets, oldest
    first), groups by key (null last)."""
    key = KEYS[by].label("key")
    slot = _bucket(session, bucket).label("slot") if bucket else None
    period = (Impression.shown_at >= start, Impression.shown_at < end)
    groups: dict[str | None, Group] = {}

    cols = [key] + ([slot] if slot is not None else [])
    shown = select(*cols, func.count()).where(*period).group_by(*cols)
    for *keys, n in session.execute(shown):
        group = groups.setdefault(keys[0], Group(keys[0]))
        group.total.impressions += n
        if slot is not None:
            group.series[_at(keys[1])].impressions += n

    pairs = (select(*cols, Interaction.type.label("type"), Impression.recommendation_id, Impression.item_id)
             .join(Interaction, (Interaction.recommendation_id == Impression.recommendation_id)
                   & (Interaction.item_id == Impression.item_id))
             .where(*period, Interaction.attributed_by.is_not(None), Interaction.type.in_(CREDITED))
             .distinct().subquery())
    outer = [pairs.c.key] + ([pairs.c.slot] if slot is not None else []) + [pairs.c.type]
    for *keys, type_, n in session.execute(select(*outer, func.count()).group_by(*outer)):
        group = groups.setdefault(keys[0], Group(keys[0]))
        setattr(group.total, type_, getattr(group.total, type_) + n)
        if slot is not None:
            point = group.series[_at(keys[1])]
            setattr(point, type_, getattr(point, type_) + n)

    out = []
    for group in sorted(groups.values(), key=lambda g: (g.key is None, g.key or "")):
        answer = {"key": group.key, **group.total.figures()}
        if bucket:
            answer["series"] = [{"at": at, "impressions": c.impressions, "clicks": c.click,
                                 "purchases": c.purchase, "ctr": _share(c.click, c.impressions)}
                                for at, c in sorted(group.series.items())]
        out.append(answer)
    return out


def activations(session: Session, start: datetime, end: datetime) -> list[dict]:
    """Each activation of a model version in [start, end), oldest first: the curves mark them."""
    rows = session.execute(select(ModelActivation.version, ModelActivation.at)
                           .where(ModelActivation.at >= start, ModelActivation.at < end)
                           .order_by(ModelActivation.at, ModelActivation.id))
    return [{"version": version, "at": at} for version, at in rows]


def _bucket(session: Session, bucket: str):
    if session.get_bind().dialect.name == "postgresql":  # timestamptz: truncated in UTC, not the session's zone
        return func.date_trunc(bucket, func.timezone("UTC", Impression.shown_at))
    return func.strftime(SQLITE_BUCKETS[bucket], Impression.shown_at)  # SQLite keeps naive UTC text


def _at(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
