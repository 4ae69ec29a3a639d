"""Conversations: a shopper says what they want in words and refines it with likes and dislikes.

    needs = Needs.of(stored)                        # what the conversation asked for so far (needs.py)
    reply = respond(recommender, needs, text, feedback, user_id, k)   # needs is refined in place

``understand`` reads the words by plain rules (limits, categories, exclusions, topic changes), ``needs`` keeps
what a conversation asked for, ``ranker`` turns it into items (query vector, Rocchio feedback, filters),
``reasons`` says why in words (``phrasing``: optionally in the generator LM's words, checked against the
facts), ``store`` keeps the turns in the SQL store.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.conversation import phrasing, ranker, reasons
from app.conversation.needs import Needs
from app.recommender.filters import NONE as NO_FILTERS
from app.recommender.filters import Filters
from app.recommender.service import Recommender

__all__ = ["Needs", "Response", "respond"]


@dataclass
class Response:
    reply: str
    understood: dict
    items: list[dict]
    model_version: str | None
    strategy: str


def respond(rec: Recommender, needs: Needs, text: str | None, feedback: list[dict], user_id: str | None,
            k: int, filters: Filters = NO_FILTERS) -> Response:
    """``needs`` refined by this message (in place, the shown items included), answered with k items among
    those the shop's ``filters`` let in."""
    answer = ranker.answer(rec, needs, user_id, k, text, feedback, filters)
    reply = reasons.reply(needs, len(answer.items), answer.model_version is not None)
    if rec.settings.conversation_lm_reply:
        from app.generator import shared  # here: torch and transformers, only where replies are rewritten

        reply, _ = phrasing.rewrite(shared(rec.settings.generator_model, rec.settings.device), reply)
    needs.saw(i["item_id"] for i in answer.items)
    return Response(reply, needs.understood(), answer.items, answer.model_version, answer.strategy)
