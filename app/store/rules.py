"""Merchandising rules in the store: one row per rule, written whole. Every write bumps the serving epoch in
the same transaction, so every API process serves it from its next answer on (app.recommender.state)."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.crud import bump_serving_epoch
from app.store.models import Rule, utcnow

FIELDS = ("action", "when", "items", "factor", "position", "share", "starts_at", "ends_at", "active")


def put_rule(session: Session, rule_id: str, fields: dict[str, Any]) -> tuple[Rule, bool]:
    """Create or replace a rule; (the rule, whether it was created). The epoch is bumped first: its row lock
    makes two writes of one new rule take turns, so the second finds the first's row instead of a conflict."""
    bump_serving_epoch(session)
    rule = session.get(Rule, rule_id)
    created = rule is None
    now = utcnow()
    if created:
        rule = Rule(rule_id=rule_id, created_at=now)
        session.add(rule)
    for name in FIELDS:
        setattr(rule, name, fields[name])
    rule.updated_at = now
    session.flush()
    return rule, created


def get_rule(session: Session, rule_id: str) -> Rule | None:
    return session.get(Rule, rule_id)


def list_rules(session: Session) -> list[Rule]:
    return list(session.scalars(select(Rule).order_by(Rule.rule_id)))


def delete_rule(session: Session, rule_id: str) -> bool:
    rule = session.get(Rule, rule_id)
    if rule is None:
        return False
    session.delete(rule)
    bump_serving_epoch(session)
    return True
