"""Conversations (role read suffices): a shopper's words and feedback in, items with reasons out.

Each message is answered from what the stored conversation asked for so far, then stored with it in the same
transaction, so any API process continues any conversation. A reply's items are shown as any list's are:
a fresh ``recommendation_id``, 1-based positions, impressions recorded once the turn is stored.
"""

import contextlib
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import conversation
from app.api import V1
from app.api.conversation_schemas import ConversationCreated, ConversationIn, ConversationOut, MessageIn, MessageOut
from app.api.deps import ReadKey, SessionDep, SettingsDep
from app.api.routes.recommendations import new_recommendation_id, positioned
from app.conversation import store
from app.core.errors import FieldError
from app.store.db import one_writer
from app.store.models import Item

router = APIRouter(prefix=f"{V1}/conversations", tags=["conversations"])
NOT_FOUND = {404: {"description": "Unknown or expired conversation"}}
MESSAGE_ERRORS = {404: {"description": "Unknown or expired conversation, or an unknown item in `feedback`: "
                        "`detail` names it."},
                  409: {"description": "Another message to this conversation was answered at the same time: "
                        "nothing was stored; send this one again."}}


def _ttl(settings) -> timedelta:
    return timedelta(hours=settings.conversation_ttl_hours)


@router.post("", status_code=201, response_model=ConversationCreated)
def create_conversation(session: SessionDep, settings: SettingsDep, _: ReadKey,
                        body: ConversationIn = ConversationIn()) -> ConversationCreated:
    """Start a conversation, for a known user (their tastes mix in) or an anonymous shopper (no body)."""
    return ConversationCreated(conversation_id=store.create(session, body.user_id, _ttl(settings)))


@router.post("/{conversation_id}/messages", response_model=MessageOut, responses=MESSAGE_ERRORS)
def post_message(conversation_id: str, body: MessageIn, request: Request, settings: SettingsDep,
                 _: ReadKey) -> JSONResponse:
    """Say what you want (`text`), react to what was shown (`feedback`), or both; get the next k items."""
    if body.text is None and not body.feedback:
        raise FieldError(422, "text", "a message needs text or feedback (or both)")
    engine = request.app.state.engine
    with engine.connect() as conn:  # a read, closed before answering: no transaction waits on the ranking
        held = store.get(conn, conversation_id, _ttl(settings))
        if held is None:
            raise HTTPException(404, f"conversation_id {conversation_id!r} not found (or expired)")
        catalog = request.app.state.recommender.served.current().catalog  # every item stored at its last refresh
        ids = [f.item_id for f in body.feedback if f.item_id not in catalog.positions]
        known = {f.item_id for f in body.feedback if f.item_id in catalog.positions}
        if ids:  # stored since (a bare item an event created): the store knows
            known |= set(conn.scalars(select(Item.item_id).where(Item.item_id.in_(ids))))
        user_id, read_turns, needs = held.user_id, held.turns, conversation.Needs.of(held.needs)
    for n, f in enumerate(body.feedback):
        if f.item_id not in known:
            raise FieldError(404, f"feedback[{n}].item_id", f"unknown item {f.item_id!r}")
    feedback = [f.model_dump() for f in body.feedback]
    answer = conversation.respond(request.app.state.recommender, needs, body.text, feedback, user_id, body.k,
                                  body.filters.selection())
    recommendation_id, items = new_recommendation_id(), positioned(answer.items)
    stored = False
    with contextlib.suppress(IntegrityError), one_writer(settings), engine.begin() as conn:
        stored = store.append(conn, conversation_id, read_turns, [
            {"role": "shopper", "text": body.text, "feedback": feedback or None},
            {"role": "assistant", "text": answer.reply, "items": items, "understood": answer.understood}],
            needs.as_dict())
    if not stored:  # the guarded UPDATE found another message stored since the read: nothing was written
        raise HTTPException(409, f"conversation_id {conversation_id!r}: another message was answered at the "
                                 "same time; send this one again")
    request.app.state.impressions.record(recommendation_id, "conversation", answer.model_version, user_id, None,
                                         [item["item_id"] for item in items])
    # Serialised once, straight from the answer's dicts, as the recommendation routes do (MessageOut documents it).
    return JSONResponse({"conversation_id": conversation_id, "recommendation_id": recommendation_id,
                         "model_version": answer.model_version, "reply": answer.reply,
                         "understood": answer.understood, "items": items})


@router.get("/{conversation_id}", response_model=ConversationOut, responses=NOT_FOUND)
def get_conversation(conversation_id: str, session: SessionDep, settings: SettingsDep,
                     _: ReadKey) -> ConversationOut:
    """The conversation with every turn, oldest first."""
    held = store.get(session.connection(), conversation_id, _ttl(settings))
    if held is None:
        raise HTTPException(404, f"conversation_id {conversation_id!r} not found (or expired)")
    turns = store.turns(session, conversation_id)
    return ConversationOut(conversation_id=held.conversation_id, user_id=held.user_id, created_at=held.created_at,
                           turns=[{k: v for k, v in t.items() if v is not None} for t in turns])
