"""Conversations: a shopper says what they want in words and refines it with likes and dislikes.

    reply = respond(recommender, turns, text, feedback, user_id, k)   # turns: the stored ones, oldest first

``understand`` reads the words by plain rules (limits, categories, exclusions, topic changes), ``needs`` keeps
what a conversation asked for, ``ranker`` turns it into items (query vector, Rocchio feedback, filters),
``reasons`` says why in words (``phrasing``: optionally in the generator LM's words, checked against the
facts), ``store`` keeps the turns in the SQL store.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.conversation import phrasing, ranker, reasons
from app.conversation.needs import Needs, apply, fold
from app.recommender.service import Recommender

__all__ = ["Needs", "Response", "fold", "respond"]


@dataclass
class Response:
    reply: str
    understood: dict
    items: list[dict]
    model_version: str | None
    strategy: str


def respond(rec: Recommender, turns: list[dict], text: str | None, feedback: list[dict], user_id: str | None,
            k: int) -> Response:
    """What the stored turns asked for, refined by this message, answered with k items."""
    categories = rec.current().catalog.categories  # as the store is now: a category added a moment ago counts
    needs = fold(turns, categories)
    apply(needs, text, feedback, categories)
    answer = ranker.answer(rec, needs, user_id, k)
    reply = reasons.reply(needs, len(answer.items), answer.model_version is not None)
    if rec.settings.conversation_lm_reply:
        from app.generator import shared

        reply, _ = phrasing.rewrite(shared(rec.settings.generator_model, rec.settings.device), reply)
    return Response(reply, needs.understood(), answer.items, answer.model_version, answer.strategy)
