"""Conversations in the SQL store: created, read (the row with what its turns asked for, or every turn),
appended to, expired.

A message reads one row (``needs``, the folded turns, and ``turns``, their count) and stores its two turns
with ``UPDATE ... WHERE turns = <the count it read>``: of two messages answered at once on one conversation,
the second finds the count moved and is refused (409, send again), so neither is lost or half applied.
A conversation idle for longer than the TTL is gone: reading it answers None (the API's 404) and creating a
new one purges the expired ones, so the tables hold only live conversations without a sweeper process.
A message's read and write are Core statements on a connection: the ORM session and its unit of work added a
fifth of a message's time and nothing a message needs.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.orm import Session

from app.store.models import Conversation, ConversationTurn, utcnow

CONVERSATIONS, TURNS = Conversation.__table__, ConversationTurn.__table__

TURN_FIELDS = ("role", "text", "feedback", "items", "understood", "at")


def create(session: Session, user_id: str | None, ttl: timedelta) -> str:
    purge_expired(session, ttl)
    conversation_id = uuid.uuid4().hex
    now = utcnow()
    session.add(Conversation(conversation_id=conversation_id, user_id=user_id, created_at=now, updated_at=now,
                             needs={}, turns=0))
    return conversation_id


def purge_expired(session: Session, ttl: timedelta) -> int:
    cutoff = utcnow() - ttl
    expired = select(Conversation.conversation_id).where(Conversation.updated_at < cutoff)
    session.execute(delete(ConversationTurn).where(ConversationTurn.conversation_id.in_(expired)))
    return session.execute(delete(Conversation).where(Conversation.updated_at < cutoff)).rowcount


def get(conn: Connection, conversation_id: str, ttl: timedelta) -> Row | None:
    """The live conversation's row (conversation_id, user_id, created_at, updated_at, needs, turns); unknown
    or expired: None."""
    row = conn.execute(
        select(CONVERSATIONS).where(CONVERSATIONS.c.conversation_id == conversation_id)).first()
    if row is None or row.updated_at < utcnow() - ttl:
        return None
    return row


def turns(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(ConversationTurn).where(ConversationTurn.conversation_id == conversation_id)
                           .order_by(ConversationTurn.seq)).all()
    return [{f: getattr(r, f) for f in TURN_FIELDS} for r in rows]


def append(conn: Connection, conversation_id: str, read_turns: int, new_turns: list[dict[str, Any]],
           needs: dict[str, Any], at: datetime | None = None) -> bool:
    """Store ``new_turns`` and the conversation's new ``needs``; False (nothing stored) when another message
    was stored since the conversation was read with ``read_turns`` turns."""
    at = at or utcnow()
    first = read_turns
    c = CONVERSATIONS.c
    moved = conn.execute(update(CONVERSATIONS).where(c.conversation_id == conversation_id, c.turns == first)
                         .values(needs=needs, turns=first + len(new_turns), updated_at=at)).rowcount
    if moved != 1:
        return False
    conn.execute(insert(TURNS), [  # one executemany: every row names every column
        {**dict.fromkeys(TURN_FIELDS), "conversation_id": conversation_id, "seq": first + n, "at": at, **turn}
        for n, turn in enumerate(new_turns)])
    return True
