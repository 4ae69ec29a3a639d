"""Request and response bodies of the v1 contract (see shared API.md), with the limits it sets."""

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
    model_validator,
)

from app.api.rules import NO_NUL, KeysAsPropertyNames, SchemaPattern, json_integer, rating_needs_a_value

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


class SegmentRef(BaseModel):
    segment_id: int
    label: str


class UserOut(BaseModel):
    user_id: str
    profile_text: str | None
    attributes: dict[str, Any]
    embedded: bool = False
    segment: SegmentRef | None = Field(None, description="The user's segment in the served model version (null "
                                       "before any, or for a user it was not trained on).")
    created_at: datetime
    updated_at: datetime


class SegmentOut(BaseModel):
    segment_id: int
    size: int
    label: str = Field(description="In words: its top categories and distinctive words of its items.")
    top_categories: list[str]
    terms: list[str] = Field(description="Words of its items' text it has more of than everyone.")
    top_items: list[str] = Field(description="Items its users have more of than everyone, most distinctive first.")


class SegmentList(BaseModel):
    model_version: str | None
    segments: list[SegmentOut]


class SegmentMembers(BaseModel):
    model_version: str
    segment_id: int
    users: list[str]


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


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    created_users: int
    created_items: int


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


# ---------------------------------------------------------------- jobs


class EmbeddingJobIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"target": "all", "only_stale": True}]})

    target: Literal["items", "users", "all"] = "all"
    only_stale: bool = Field(True, description="Encode only what has no current vector (changed text or model).")


class JobAccepted(BaseModel):
    job_id: str
    status: str


class Progress(BaseModel):
    done: int
    total: int


class JobOut(BaseModel):
    job_id: str
    kind: str
    status: str
    params: dict[str, Any]
    progress: Progress
    attempts: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class JobList(BaseModel):
    jobs: list[JobOut]


class TrainingJobIn(Body):
    """Every field is optional; the defaults suit catalogs from thousands to a million items."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"objective": "auto", "epochs": 60}]})

    objective: Literal["auto", "rating", "ranking"] = "auto"
    solver: Literal["auto", "gibbs", "adam"] | None = Field(
        None, description="auto: Gibbs sampling (Bayesian MF) for ratings, Adam for implicit events.")
    factors: Int(1, 1024) | None = None
    epochs: Int(1, 1000) | None = None
    patience: Int(1, 100) | None = None
    lr: Annotated[float, Field(gt=0, le=1)] | None = None
    reg: Annotated[float, Field(ge=0, le=100)] | None = None
    batch_size: Int(1, 1_000_000) | None = None
    init: Literal["semantic", "random"] | None = None
    text_map: bool | None = None
    seed: Int(0, 2**31 - 1) | None = None
    event_weights: dict[Literal["rating", "view", "click", "cart", "purchase"],
                        Annotated[float, Field(ge=0, le=1000)]] | None = Field(
        None, description="Weight of each event type in the ranking objective (purchase > cart > click > view).")
    select: bool | None = Field(
        None, description="Choose what each route family serves on the shop's own held-out events (default true; "
        "the version's `validation` shows the candidates and the choice). False serves the default blend.")


class RouteValidation(BaseModel):
    """One route family's carve: every candidate's figure, the one chosen, and what it scored."""

    served: float | None = Field(description="The chosen candidate's figure on the carve.")
    chosen: str = Field(description="The candidate served: `default` (the trainer's default blend), a peer alone "
                        "(`item_knn`, `tfidf`, `popularity`, `factors`, `text_map`) or a `blend ...`.")
    weights: dict[str, float] = Field(description="The weights the version serves for this route family.")
    candidates: dict[str, float] = Field(description="Candidate name -> its figure on the same held-out events.")
    events: int = Field(description="How many held-out users the figures are over.")
    metric: str = Field(description="The figure: recall@k.")


class ModelOut(BaseModel):
    version: str
    job_id: str | None = Field(None, description="The training job that made it: its `result.epochs` hold the "
                               "loss and validation figure of each epoch.")
    created_at: datetime
    active: bool
    metrics: dict[str, Any] = Field(description="Best validation figure (`val_recall@20` or `val_rmse`), sizes, "
                                    "seconds; `peers.val_recall@20`: the version as served (`semrec`, with its "
                                    "appended terms), most-popular and item-kNN on the same validation events.")
    params: dict[str, Any]
    validation: dict[str, RouteValidation] = Field(
        default_factory=dict, description="What the version knows about itself: per route family (`next_items`, "
        "`new_items`), its candidates' figures on the shop's own held-out events, the one chosen and served.")

    @model_validator(mode="before")
    @classmethod
    def _validation_from_metrics(cls, value: Any) -> Any:
        metrics = value.get("metrics") if isinstance(value, dict) else getattr(value, "metrics", None)
        carved = (metrics or {}).get("validation") or {}
        routes = {k: v for k, v in carved.items() if isinstance(v, dict) and "candidates" in v}
        if isinstance(value, dict):
            return {**value, "validation": value.get("validation") or routes}
        return {name: getattr(value, name) for name in ("version", "job_id", "created_at", "active", "metrics",
                                                         "params")} | {"validation": routes}


class ModelList(BaseModel):
    models: list[ModelOut]


# ---------------------------------------------------------------- recommendations


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    title: str | None
    because: str | None = Field(None, description="Why, in words: with `explain` only.")


class RecommendationList(BaseModel):
    model_version: str | None = Field(description="The model version that made the list; null before any.")
    strategy: Literal["personalized", "text", "popular"]
    items: list[RecommendedItem]


class RankIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"item_ids": ["sku-123", "sku-7", "sku-42"]}]})

    item_ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]


class RankedItem(RecommendedItem):
    predicted_rating: float | None = Field(None, ge=1, le=5, description=(
        "The rating (1-5) this user would give, where the model version has a rating predictor (the store held "
        "ratings) and knows the item; absent otherwise."))


class RankedList(RecommendationList):
    items: list[RankedItem]
    unknown: list[str] = Field(description="Candidates the catalog does not know, in the order given.")


class Filters(Body):
    category: ShortText | None = None
    min_price: Annotated[float, Field(ge=0)] | None = None
    max_price: Annotated[float, Field(ge=0)] | None = None


class Context(Body):
    """The request's context: the time of day, day of week and month of ``timestamp`` (UTC), the location
    and the device, each as the events stored with it show (``app.context``); values never seen change nothing."""

    timestamp: Timestamp | None = None
    location: ContextValue | None = None
    device: ContextValue | None = None


class RecommendIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user_id": "u-42", "query": "light shoes for muddy trails", "k": 10, "filters": {"max_price": 120},
         "context": {"device": "mobile"}}]})

    user_id: Id | None = None
    query: Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(storable),
                     SchemaPattern(NO_NUL)] | None = None
    k: Int(1, 1000) = 10
    exclude_seen: bool = True
    filters: Filters = Field(default_factory=Filters)
    context: Context | None = None
    explain: bool = Field(False, description="Give each item a `because` in words.")
