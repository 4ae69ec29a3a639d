"""What a conversation has asked for so far, folded from its turns: the current topic's wishes and limits, the
likes and dislikes, and what was shown. Kept with the conversation in the store (``as_dict``/``of``), so any
API process continues any conversation from the store alone.

Rules (shared API.md, Conversations): each message refines the last; a later limit replaces an earlier one of
the same kind; "actually", "instead", "something else" start a new topic, dropping earlier wishes, limits and
likes, while dislikes stay (and disliked items never come back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from app.conversation.understand import Said, read


@dataclass
class Needs:
    wishes: list[str] = field(default_factory=list)  # the current topic's wishes, oldest first
    category: list[str] = field(default_factory=list)
    min_price: float | None = None
    max_price: float | None = None
    exclude: list[str] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)  # item ids, the current topic's, oldest first
    disliked: list[str] = field(default_factory=list)  # item ids, the whole conversation's
    shown: list[str] = field(default_factory=list)  # item ids shown in any answer, oldest first

    def as_dict(self) -> dict:
        """The fields as JSON-ready values (lists copied; ``dataclasses.asdict``'s deep copy cost a message 5%)."""
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), list) else v for f in fields(self)}

    @classmethod
    def of(cls, stored: dict | None) -> Needs:
        """Needs from ``as_dict``'s output (keys it does not know are ignored, missing ones take defaults)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (stored or {}).items() if k in names})

    @property
    def query(self) -> str:
        """The current topic's wishes as one text: what the encoder reads."""
        return ". ".join(self.wishes)

    def hear(self, said: Said) -> None:
        if said.new_topic:
            self.wishes, self.category, self.exclude, self.liked = [], [], [], []
            self.min_price = self.max_price = None
        if said.wish:
            self.wishes.append(said.wish)
        if said.category:
            self.category = list(said.category)
        if said.min_price is not None:
            self.min_price = said.min_price
            if self.max_price is not None and self.max_price < said.min_price:
                self.max_price = None  # "over 50" after "under 30": the newer limit wins
        if said.max_price is not None:
            self.max_price = said.max_price
            if self.min_price is not None and self.min_price > said.max_price:
                self.min_price = None
        for word in said.exclude:
            if word not in self.exclude:
                self.exclude.append(word)

    def feel(self, feedback: Iterable[tuple[str, str]]) -> None:
        """(item_id, "like" | "dislike") pairs; the latest signal on an item wins."""
        for item_id, signal in feedback:
            if item_id in self.liked:
                self.liked.remove(item_id)
            if item_id in self.disliked:
                self.disliked.remove(item_id)
            (self.liked if signal == "like" else self.disliked).append(item_id)

    def saw(self, item_ids: Iterable[str]) -> None:
        seen = set(self.shown)
        for i in item_ids:
            if i not in seen:
                seen.add(i)
                self.shown.append(i)

    def understood(self) -> dict:
        """The API's ``understood``: what was taken from the words."""
        out: dict = {"query": self.query, "exclude": list(self.exclude)}
        if self.category:
            out["category"] = self.category[0] if len(self.category) == 1 else list(self.category)
        if self.min_price is not None:
            out["min_price"] = self.min_price
        if self.max_price is not None:
            out["max_price"] = self.max_price
        return out


def apply(needs: Needs, text: str | None, feedback: Iterable[dict], categories: Iterable[str]) -> Said | None:
    """One shopper message: the words first (a new topic drops earlier likes), then its feedback."""
    said = read(text, categories) if text else None
    if said is not None:
        needs.hear(said)
    needs.feel((f["item_id"], f["signal"]) for f in feedback)
    return said
