"""Conversations: a shopper says what they want in words and refines it with likes and dislikes.

    needs = fold(turns, catalog_categories)         # what the stored turns asked for (needs.py)
    reply = respond(recommender, needs, text, feedback, user_id, k)

``understand`` reads the words by plain rules (limits, categories, exclusions, topic changes), ``needs`` keeps
what a conversation asked for, ``ranker`` turns it into items (query vector, Rocchio feedback, filters),
``reasons`` says why in words, ``store`` keeps the turns in the SQL store.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.conversation import ranker, reasons
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


def respond(rec: Recommender, needs: Needs, text: str | None, feedback: list[dict], user_id: str | None,
            k: int) -> Response:
    """Hear one message (``needs`` is updated in place) and answer it with k items."""
    apply(needs, text, feedback, rec.served.current().catalog.categories)
    answer = ranker.answer(rec, needs, user_id, k)
    has_model = answer.model_version is not None
    return Response(reasons.reply(needs, len(answer.items), has_model), needs.understood(), answer.items,
                    answer.model_version, answer.strategy)
