"""The rules as serving holds them (``app.recommender.rules.RuleSet``), read when the served state refreshes.

Every rule write bumps the serving epoch, so the rules are read again only on a refresh that finds a newer
epoch (a few rows), never per request. A rule that selects items by attributes needs the items' attributes,
which the catalog view does not keep (a dict per item would cost tens of MB on a large catalog): the ids of
the items that match are kept per rule instead, made by one pass over the items when the rule is new or
changed, then kept up from the items changed since the last read (the catalog's own incremental read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.recommender.catalog import OVERLAP
from app.recommender.rules import Rule, RuleSet
from app.store.models import Item, utcnow
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


def same_value(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def has(attributes: dict | None, wanted: tuple[tuple[str, object], ...]) -> bool:
    attributes = attributes or {}
    return all(key in attributes and same_value(attributes[key], value) for key, value in wanted)


def load(session: Session, old: RuleSet | None, epoch_moved: bool) -> RuleSet:
    """The active rules: ``old`` itself when nothing moved; the rules read again when the epoch did."""
    if old is not None and not epoch_moved:
        return old
    read_at = utcnow()
    rules = tuple(from_row(r) for r in session.scalars(
        select(RuleRow).where(RuleRow.active.is_(True)).order_by(RuleRow.rule_id)))
    by_attributes = [r for r in rules if r.attributes]
    kept = old.attribute_items if old is not None else {}
    known = {r.rule_id: r for r in old.rules} if old is not None else {}
    fresh = [r for r in by_attributes if known.get(r.rule_id) != r or r.rule_id not in kept]
    matches: dict[str, set[str]] = {r.rule_id: set(kept[r.rule_id]) for r in by_attributes if r not in fresh}
    if fresh:  # one pass over every item for the new or changed rules
        for r in fresh:
            matches[r.rule_id] = set()
        for item_id, attributes in session.execute(select(Item.item_id, Item.attributes)):
            for r in fresh:
                if has(attributes, r.attributes):
                    matches[r.rule_id].add(item_id)
    kept_rules = [r for r in by_attributes if r not in fresh]
    if kept_rules and old is not None and old.since is not None:  # the items changed since the last read
        changed = select(Item.item_id, Item.attributes).where(Item.updated_at >= old.since - OVERLAP)
        for item_id, attributes in session.execute(changed):
            for r in kept_rules:
                (matches[r.rule_id].add if has(attributes, r.attributes) else matches[r.rule_id].discard)(item_id)
    boundaries = tuple(sorted({t for r in rules for t in (r.starts_at, r.ends_at) if t is not None}))
    return RuleSet(rules, {rid: frozenset(ids) for rid, ids in matches.items()}, boundaries, read_at)
