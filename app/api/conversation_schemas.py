"""Bodies of the conversation routes (shared API.md, Conversations)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.api.recommendation_schemas import RECOMMENDATION_ID, Filters, RecommendedItem
from app.api.rules import NOT_BLANK, TEXT_OR_FEEDBACK, SchemaPattern
from app.api.schemas import Body, Id, Int, storable

MessageText = Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(storable),
                        SchemaPattern(NOT_BLANK)]


class ConversationIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": "u-42"}, {}]})

    user_id: Id | None = Field(None, description="Mix in this user's tastes and leave out what they have seen.")


class ConversationCreated(BaseModel):
    conversation_id: str


class Feedback(Body):
    item_id: Id
    signal: Literal["like", "dislike"]


class MessageIn(Body):
    """`text`, non-empty `feedback`, or both (the schema's `anyOf` says so)."""

    model_config = ConfigDict(json_schema_extra={**TEXT_OR_FEEDBACK, "examples": [
        {"text": "running shoes under $100"},
        {"text": "actually a gift for my dad who loves fishing, no books",
         "feedback": [{"item_id": "sku-1", "signal": "dislike"}], "k": 5}]})

    text: MessageText | None = None
    feedback: Annotated[list[Feedback], Field(max_length=100)] = Field(default_factory=list)
    k: Int(1, 100) = 10
    filters: Filters = Field(default_factory=Filters, description="The shop's limits on what the reply may show "
                             "(the shopper's own wishes apply within them).")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str | None) -> str | None:
        if text is not None and not text.strip():
            raise ValueError("must not be blank")
        return text


class Understood(BaseModel):
    query: str = Field(description="The current topic's wishes, as the encoder reads them.")
    category: str | list[str] | None = None
    min_price: float | None = None
    max_price: float | None = None
    exclude: list[str]


class ConversationItem(RecommendedItem):
    because: str = Field(description="Why, in words: a liked item it is like, the words it matches, popularity.")


class TurnItem(ConversationItem):
    position: int | None = Field(None, ge=1, description="1-based place in the reply (absent on replies stored "
                                 "before positions were kept).")


class MessageOut(BaseModel):
    conversation_id: str
    recommendation_id: str = Field(description=RECOMMENDATION_ID)
    model_version: str | None
    reply: str
    understood: Understood
    items: list[ConversationItem]


class Turn(BaseModel):
    role: Literal["shopper", "assistant"]
    text: str | None = None
    feedback: list[Feedback] | None = None
    understood: Understood | None = None
    items: list[TurnItem] | None = None
    at: datetime


class ConversationOut(BaseModel):
    conversation_id: str
    user_id: str | None
    created_at: datetime
    turns: list[Turn]
