"""Recommendation lists, ranking, and the free-text and context request of POST /v1/recommendations."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.api.rules import NO_NUL, SchemaPattern
from app.api.schemas import Body, ContextValue, Id, Int, ShortText, Timestamp, storable


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    title: str | None
    because: str | None = Field(None, description=(
        "Why, in words: with `explain`; an item a merchandising rule placed says so always (\"promoted\", "
        "\"pinned by the shop\")."))


class RecommendationList(BaseModel):
    model_version: str | None = Field(description="The model version that made the list; null before any.")
    strategy: Literal["personalized", "text", "popular"]
    items: list[RecommendedItem]
    rules: list[str] = Field(default_factory=list, description=(
        "The ids of the merchandising rules that acted on this list (GET /v1/rules), in id order; absent when "
        "none did (and on the rank route, which takes no rules)."))


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
