"""Request and response bodies of the v1 contract (see shared API.md), with the limits it sets: the shared
types (ids, texts, attributes, times, bounded integers, the strict ``Body``) and the catalog, users and
interactions. Jobs, model versions, segments and recommendations have modules of their own beside this one."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.api.rules import NO_NUL, KeysAsPropertyNames, SchemaPattern, json_integer, rating_needs_a_value
from app.api.segment_schemas import SegmentRef

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
MAX_BATCH = 10_000
MAX_TEXT = 20_000
MAX_ATTRIBUTES = 100
EVENT_TYPES = ("rating", "view", "click", "cart", "purchase")


def storable(text: str) -> str:
    """Every store keeps the text as UTF-8: refuse NUL and lone surrogates up front rather than fail at commit."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return text


def _iso_text(value: Any) -> Any:
    """A time is ISO 8601 text (the schema's `date-time`), never a number of seconds, which the parser would
    otherwise take as a Unix time."""
    if isinstance(value, str) and not (len(value) >= 10 and value[:4].isdigit() and value[4] == "-"):
        raise ValueError("must be an ISO 8601 time (YYYY-MM-DDTHH:MM:SS, with an offset or UTC)")
    if isinstance(value, int | float):
        raise ValueError("must be an ISO 8601 time as a string")
    return value


def _utc(ts: datetime) -> datetime:
    """Times without an offset are UTC; all are kept in UTC."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
RECOMMENDATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"
RecommendationId = Annotated[str, StringConstraints(pattern=RECOMMENDATION_ID_PATTERN), Field(description=(
    "The `recommendation_id` of the answer that showed the item (1-64 characters of A-Z a-z 0-9 . _ : @ -)."))]
# The schema states what storable() refuses (NUL), so a request it admits is never rejected for it.
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(storable), SchemaPattern(NO_NUL)]
ShortText = Annotated[str, StringConstraints(max_length=256), AfterValidator(storable), SchemaPattern(NO_NUL)]
AttrKey = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(storable),
                    SchemaPattern(NO_NUL)]
Attributes = Annotated[dict[AttrKey, bool | int | float | Text], Field(max_length=MAX_ATTRIBUTES),
                       KeysAsPropertyNames()]
# Strict(False): bodies are strict (below), but a time arrives as JSON text and is parsed.
Timestamp = Annotated[datetime, Strict(False), BeforeValidator(_iso_text), AfterValidator(_utc)]


def Int(ge: int, le: int) -> Any:  # noqa: N802 (used as a type)
    """An integer in [ge, le] as JSON Schema's integer: 4.0 is admitted (strict pydantic would not), true and "4"
    stay refused. The bounds go inside the lax check, so the document states them as minimum and maximum."""
    return Annotated[int, Field(ge=ge, le=le), Strict(False), BeforeValidator(json_integer)]


class Body(BaseModel):
    # NaN and infinity cannot be stored as JSON or compared sensibly: refuse them everywhere. Strict: a value
    # of another JSON type than the schema's (`"only_stale": 0`, `"price": "5"`) is a 422, never coerced.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, strict=True)


# ---------------------------------------------------------------- items

ITEM_EXAMPLE = {
    "title": "Trail running shoes",
    "description": "Light shoes with a grippy sole for muddy mountain paths.",
    "category": "shoes",
    "price": 89.9,
    "attributes": {"brand": "Stride", "waterproof": True, "weight_g": 280},
    "available": True,
}


class ItemIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [ITEM_EXAMPLE]})

    title: Annotated[Text, StringConstraints(min_length=1)]
    description: Text | None = None
    category: ShortText | None = None
    price: Annotated[float, Field(ge=0)] | None = None
    attributes: Attributes = Field(default_factory=dict)
    available: bool = True


class ItemRecord(ItemIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{"item_id": "sku-123", **ITEM_EXAMPLE}]})

    item_id: Id


class ItemBatch(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{"item_id": "sku-123", **ITEM_EXAMPLE}]}]})

    items: Annotated[list[ItemRecord], Field(max_length=MAX_BATCH)]


class ItemOut(BaseModel):
    item_id: str
    title: str | None
    description: str | None
    category: str | None
    price: float | None
    attributes: dict[str, Any]
    available: bool
    embedded: bool = False
    created_at: datetime
    updated_at: datetime


class Upserted(BaseModel):
    upserted: int


# ---------------------------------------------------------------- users

USER_EXAMPLE = {
    "profile_text": "Runs trails at weekends, likes lightweight outdoor gear.",
    "attributes": {"country": "DE", "newsletter": True},
}


class UserIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

    profile_text: Text | None = None
    attributes: Attributes = Field(default_factory=dict)


class UserRecord(UserIn):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": "u-42", **USER_EXAMPLE}]})

    user_id: Id


class UserBatch(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"users": [{"user_id": "u-42", **USER_EXAMPLE}]}]})

    users: Annotated[list[UserRecord], Field(max_length=MAX_BATCH)]


class UserOut(BaseModel):
    user_id: str
    profile_text: str | None
    attributes: dict[str, Any]
    embedded: bool = False
    segment: SegmentRef | None = Field(None, description="The user's segment in the served model version (null "
                                       "before any, or for a user it was not trained on).")
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- interactions

INTERACTION_EXAMPLE = {
    "user_id": "u-42",
    "item_id": "sku-123",
    "type": "rating",
    "value": 5,
    "text": "Great grip on wet rock, true to size.",
    "timestamp": "2026-11-01T10:15:00+01:00",
    "event_id": "evt-0001",
    "context": {"device": "mobile", "location": "DE-BE"},
}

ContextValue = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(storable),
                        SchemaPattern(NO_NUL)]


class EventContext(Body):
    """Where and on what the event happened (free strings, at most 64 characters: a shop's own codes such as
    "mobile" or "DE-BE"); its time is the event's timestamp."""

    location: ContextValue | None = None
    device: ContextValue | None = None


class InteractionIn(Body):
    model_config = ConfigDict(json_schema_extra=rating_needs_a_value(EVENT_TYPES))

    user_id: Id
    item_id: Id
    type: Literal["rating", "view", "click", "cart", "purchase"]
    value: Annotated[float, Field(ge=0)] | None = Field(
        None, validate_default=True, description="Rating 1-5 (required with `type` rating); a non-negative weight "
        "otherwise.")
    text: Text | None = None
    timestamp: Timestamp | None = Field(None, description="ISO 8601; UTC when no offset; default: time of receipt.")
    event_id: Id | None = Field(None, description="Makes a resend harmless: a known event_id is a duplicate.")
    context: EventContext | None = None
    recommendation_id: RecommendationId | None = Field(None, description=(
        "The answer that showed the item (its `recommendation_id`): the event is credited to it when that answer "
        "showed this item within `SEMREC_ATTRIBUTION_HOURS` before the event. Without it, a click, cart or "
        "purchase is credited to the latest answer that showed the item to this user (docs/online.md)."))

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, value: float | None, info: ValidationInfo) -> float | None:
        if info.data.get("type") == "rating":
            if value is None or not 1 <= value <= 5:
                raise ValueError("a rating needs a value from 1 to 5")
        elif value is not None and value < 0:
            raise ValueError("must be non-negative")
        return value


class InteractionBatch(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"interactions": [INTERACTION_EXAMPLE]}]})

    interactions: Annotated[list[InteractionIn], Field(max_length=MAX_BATCH)]


class Attributed(BaseModel):
    """How the batch's stored events were credited to answers (docs/online.md)."""

    recommendation_id: int = Field(description="Credited to the answer they named.")
    last_shown: int = Field(description="Credited to the latest answer that showed the item to the user.")
    unattributed: int = Field(description="Named an unknown or expired answer, or one that did not show the "
                              "item (the id is kept), or were a click, cart or purchase no answer showed.")


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    created_users: int
    created_items: int
    attributed: Attributed


class InteractionOut(BaseModel):
    item_id: str
    type: str
    value: float | None
    text: str | None
    timestamp: datetime
    event_id: str | None
    context: dict[str, str] | None = None


class InteractionList(BaseModel):
    user_id: str
    interactions: list[InteractionOut]


def ends_after_start(cls, value, info):
    """``ends_at`` after ``starts_at`` (rules, experiments): ``field_validator("ends_at")(ends_after_start)``."""
    start = info.data.get("starts_at")
    if value is not None and start is not None and value <= start:
        raise ValueError("must be after starts_at")
    return value
