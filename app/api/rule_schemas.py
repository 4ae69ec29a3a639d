"""Merchandising rules (PUT /v1/rules/{rule_id}): when a rule applies, which items it moves and how. What
each action needs is stated in the JSON schema (``app.api.rules``) and checked by validators that name the
field; a field the action does not read is not stored."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.api.rules import alongside
from app.api.schemas import Attributes, Body, Id, Int, ShortText, Timestamp, ends_after_start
from app.recommender.rules import ROUTES

MAX_RULE_ITEMS = 1000
MAX_POSITION = 1000
Action = Literal["boost", "bury", "pin", "promote"]
Route = Literal[ROUTES]

RULE_EXAMPLE = {"action": "boost", "when": {"route": "recommendations"}, "items": {"attributes": {"brand": "Stride"}},
                "factor": 2.0, "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}

# What each action reads, as the schema's rule across fields (a pin names exactly one item id).
NEEDS_OF_ACTION = alongside(
    {"required": ["action", "factor"], "properties": {"action": {"enum": ["boost", "bury"]},
                                                      "factor": {"type": "number"}}},
    {"required": ["action", "position", "items"], "properties": {
        "action": {"const": "pin"}, "position": {"type": "integer"},
        "items": {"required": ["item_ids"], "properties": {
            "item_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1}}}}},
    {"required": ["action", "share"], "properties": {"action": {"const": "promote"}, "share": {"type": "number"}}},
)
SOME_SELECTOR = alongside({"required": ["category"]}, {"required": ["attributes"]}, {"required": ["item_ids"]})


class RuleWhen(Body):
    """The requests a rule applies to; a field left out matches every request."""

    route: Route | None = Field(None, description="The list route: `recommendations` (a user's list and POST "
                                "/v1/recommendations), `similar`; `session`, `bought_together`, `trending` for "
                                "the routes of those names.")
    category: ShortText | None = Field(None, description="The request's category filter.")
    user_segment: Int(0, 100_000) | None = Field(None, description="The user's segment_id in the served version.")


class RuleItems(Body):
    """The items a rule moves: those that meet every condition given (at least one)."""

    model_config = ConfigDict(json_schema_extra=SOME_SELECTOR)

    category: ShortText | None = None
    attributes: Attributes | None = Field(None, description="Attribute values the items all have (true is not 1).")
    item_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_RULE_ITEMS)] | None = None

    @model_validator(mode="after")
    def _selects_something(self) -> "RuleItems":
        if self.category is None and self.attributes is None and self.item_ids is None:
            raise ValueError("name at least one of category, attributes, item_ids")
        return self


class RuleIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [RULE_EXAMPLE], **NEEDS_OF_ACTION})

    action: Action
    when: RuleWhen = Field(default_factory=RuleWhen)
    items: RuleItems
    factor: Annotated[float, Field(gt=0, le=1000)] | None = Field(
        None, validate_default=True, description="boost, bury: the matching items' standing (1 / rank) is "
        "multiplied by it.")
    position: Int(1, MAX_POSITION) | None = Field(
        None, validate_default=True, description="pin: the item's place in the list, 1-based.")
    share: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, validate_default=True, description="promote: the share of the k slots (rounded down) the best "
        "matching items fill, first.")
    starts_at: Timestamp | None = Field(None, description="ISO 8601; UTC when no offset; none: in force now.")
    ends_at: Timestamp | None = Field(None, validate_default=True, description="After `starts_at`; none: open.")
    active: bool = True

    @field_validator("items")
    @classmethod
    def _pin_names_one_item(cls, items: RuleItems, info: ValidationInfo) -> RuleItems:
        if info.data.get("action") == "pin" and (items.item_ids is None or len(items.item_ids) != 1):
            raise ValueError("a pin names exactly one item in item_ids")
        return items

    @field_validator("factor", "position", "share")
    @classmethod
    def _the_action_reads_it(cls, value: Any, info: ValidationInfo) -> Any:
        needs = {"factor": ("boost", "bury"), "position": ("pin",), "share": ("promote",)}[info.field_name]
        action = info.data.get("action")
        if action in needs and value is None:
            raise ValueError(f"{action} needs a {info.field_name}")
        return value if action in needs else None  # not read by this action: not stored

    _ends_after_start = field_validator("ends_at")(ends_after_start)


class RuleOut(BaseModel):
    rule_id: str
    action: Action
    when: dict[str, Any]
    items: dict[str, Any]
    factor: float | None
    position: int | None
    share: float | None
    starts_at: datetime | None
    ends_at: datetime | None
    active: bool
    created_at: datetime
    updated_at: datetime


class RuleList(BaseModel):
    rules: list[RuleOut]
