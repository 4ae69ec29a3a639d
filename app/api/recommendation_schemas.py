"""Recommendation lists, ranking, and the free-text and context request of POST /v1/recommendations."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.api.rules import NO_NUL, KeysAsPropertyNames, SchemaPattern
from app.api.schemas import AttrKey, Body, ContextValue, Id, Int, ShortText, Text, Timestamp, storable
from app.recommender.filters import Filters as Selection


class RecommendedItem(BaseModel):
    item_id: str
    position: int = Field(ge=1, description="1-based place in this list; the service keeps it with the answer's "
                          "impressions, so an event need only name the `recommendation_id`.")
    score: float
    title: str | None
    because: str | None = Field(None, description=(
        "Why, in words: with `explain`; on an item that is in a list for another reason than its strategy (a "
        "popular item after the bought-together or trending ones); and always on an item a merchandising rule "
        "placed (\"promoted\", \"pinned by the shop\")."))


RECOMMENDATION_ID = ("This answer's id, fresh for every answer (even one computed before): send it with the "
                     "shopper's events on its items (`POST /v1/interactions`) to credit them to it (docs/online.md).")


class RecommendationList(BaseModel):
    recommendation_id: str = Field(description=RECOMMENDATION_ID)
    model_version: str | None = Field(description="The model version that made the list; null before any.")
    strategy: Literal["personalized", "text", "popular", "bought_together", "trending"] = Field(description=(
        "What ranked the list: `personalized` (the shopper's tastes), `text` (words), `popular` (event counts), "
        "`bought_together` (co-purchases with the item, by lift over chance), `trending` (recent events over "
        "the item's usual rate)."))
    items: list[RecommendedItem]
    rules: list[str] = Field(default_factory=list, description=(
        "The ids of the merchandising rules that acted on this list (GET /v1/rules), in id order; absent when "
        "none did (and on the rank route, which takes no rules)."))
    experiment_id: str | None = Field(None, description=(
        "The running experiment this list was made for (GET /v1/experiments/{experiment_id}); absent when none "
        "runs on the route or the request names no shopper (`user_id`, or `session_id`)."))
    variant: str | None = Field(None, description=(
        "The experiment's variant that made the list (the shopper keeps it), or `interleaved` when both "
        "variants' lists were merged; absent outside an experiment."))


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


MAX_FILTER_IDS = 1000
AttributeValue = bool | int | float | Text
Diversity = Annotated[float, Field(ge=0, le=1, description=(
    "0 (the default) ranks by score alone; higher values trade score for variety: no two items too alike (in "
    "the model's factors) and categories spread (maximal marginal relevance over the best-scored candidates)."))]


class Filters(Body):
    """Which items the list may hold, applied before the top k is taken: k eligible items always give k items,
    and a filter never lets an item outside it in."""

    category: ShortText | Annotated[list[ShortText], Field(min_length=1, max_length=100)] | None = Field(
        None, description="One category, or a list: any of them.")
    min_price: Annotated[float, Field(ge=0)] | None = None
    max_price: Annotated[float, Field(ge=0)] | None = None
    attributes: Annotated[dict[AttrKey, AttributeValue | Annotated[list[AttributeValue], Field(
        min_length=1, max_length=100)]], Field(max_length=20), KeysAsPropertyNames()] | None = Field(
        None, description="Equality on the item's attributes (JSON types apart: `true` is not `1`); a list "
        "accepts any of its values; every name given must match.")
    item_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_FILTER_IDS)] | None = Field(
        None, description="Only these items.")
    exclude_item_ids: Annotated[list[Id], Field(max_length=MAX_FILTER_IDS)] | None = Field(
        None, description="Never these items (at most 1000).")

    def selection(self) -> Selection:
        """As the recommender applies them."""
        return Selection.of(self.category, self.min_price, self.max_price, self.attributes, self.item_ids,
                            self.exclude_item_ids)


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
    items: Annotated[list[Id], Field(max_length=100)] | None = Field(
        None, description="What the visitor viewed this session (at most 100, newest last), with or without "
        "`user_id`: they rank the list as a stored visitor's events would, and are left out of it.")
    session_id: Id | None = Field(None, description=(
        "The storefront's id of an anonymous visit: kept for measurement, and it assigns a visitor without "
        "`user_id` to an experiment's variant; outside an experiment the list is the same without it."))
    query: Annotated[str, StringConstraints(min_length=1, max_length=2000), AfterValidator(storable),
                     SchemaPattern(NO_NUL)] | None = None
    k: Int(1, 1000) = 10
    exclude_seen: bool = True
    filters: Filters = Field(default_factory=Filters)
    context: Context | None = None
    explain: bool = Field(False, description="Give each item a `because` in words.")
    diversity: Diversity = 0.0
