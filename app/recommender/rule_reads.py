"""The rules as serving holds them (``app.recommender.rules.RuleSet``), read when the served state refreshes.

Every rule write bumps the serving epoch, so the rules are read again only on a refresh that finds a newer
epoch (a few rows), never per request. A rule that selects items by attributes matches them through the
catalog view's attribute indexes, as the list filters do, so it needs no pass over the items of its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.recommender.rules import Rule, RuleSet
from app.store.models import Rule as RuleRow


def _seconds(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None


def from_row(row: RuleRow) -> Rule:
    when, items = row.when or {}, row.items or {}
    attributes = items.get("attributes")
    ids = items.get("item_ids")
    return Rule(
        rule_id=row.rule_id, action=row.action, route=when.get("route"), category=when.get("category"),
        segment=when.get("user_segment"), item_category=items.get("category"),
        attributes=tuple(sorted(attributes.items())) if attributes else None,
        item_ids=frozenset(ids) if ids is not None else None,
        factor=row.factor if row.factor is not None else 1.0, position=row.position or 1, share=row.share or 0.0,
        starts_at=_seconds(row.starts_at), ends_at=_seconds(row.ends_at))


def load(session: Session, old: RuleSet | None, epoch_moved: bool) -> RuleSet:
    """The active rules: ``old`` itself when nothing moved; the rules read again when the epoch did."""
    if old is not None and not epoch_moved:
        return old
    rules = tuple(from_row(r) for r in session.scalars(
        select(RuleRow).where(RuleRow.active.is_(True)).order_by(RuleRow.rule_id)))
    boundaries = tuple(sorted({t for r in rules for t in (r.starts_at, r.ends_at) if t is not None}))
    return RuleSet(rules, boundaries)
