"""Conversations in the SQL store: created, read whole (turns oldest first), appended to, expired.

A conversation idle for longer than the TTL is gone: reading it answers None (the API's 404) and creating a
new one purges the expired ones, so the tables hold only live conversations without a sweeper process.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.store.models import Conversation, ConversationTurn, utcnow

TURN_FIELDS = ("role", "text", "feedback", "items", "understood", "at")


def create(session: Session, user_id: str | None, ttl: timedelta) -> str:
    purge_expired(session, ttl)
    conversation_id = uuid.uuid4().hex
    now = utcnow()
    session.add(Conversation(conversation_id=conversation_id, user_id=user_id, created_at=now, updated_at=now))
    return conversation_id


def purge_expired(session: Session, ttl: timedelta) -> int:
    cutoff = utcnow() - ttl
    expired = select(Conversation.conversation_id).where(Conversation.updated_at < cutoff)
    session.execute(delete(ConversationTurn).where(ConversationTurn.conversation_id.in_(expired)))
    return session.execute(delete(Conversation).where(Conversation.updated_at < cutoff)).rowcount


def get(session: Session, conversation_id: str, ttl: timedelta) -> tuple[Conversation, list[dict[str, Any]]] | None:
    """The live conversation and its turns as dicts (oldest first), or None: unknown or expired."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.updated_at < utcnow() - ttl:
        return None
    rows = session.scalars(select(ConversationTurn).where(ConversationTurn.conversation_id == conversation_id)
                           .order_by(ConversationTurn.seq)).all()
    return conversation, [{f: getattr(r, f) for f in TURN_FIELDS} for r in rows]


def append(session: Session, conversation_id: str, first_seq: int, turns: list[dict[str, Any]],
           at: datetime | None = None) -> None:
    """Add turns after the ``first_seq`` already there; flushed now, so a message another process appended in
    the meantime fails here (the unique (conversation, seq) index), not at commit."""
    at = at or utcnow()
    for n, turn in enumerate(turns):
        session.add(ConversationTurn(conversation_id=conversation_id, seq=first_seq + n, at=at, **turn))
    session.execute(update(Conversation).where(Conversation.conversation_id == conversation_id)
                    .values(updated_at=at))
    session.flush()


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Conversation)) or 0
