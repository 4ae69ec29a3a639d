"""Bodies of the generated-review routes (shared API.md, Generated reviews)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import Body, Id, Int


class ReviewJobIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"only_missing": True, "max_per_item": 2}]})

    only_missing: bool = Field(True, description="Top up items short of max_per_item; false: write each item's "
                               "reviews afresh, replacing its old ones.")
    max_per_item: Int(1, 10) = 2
    item_ids: Annotated[list[Id], Field(min_length=1, max_length=10_000)] | None = Field(
        None, description="Only these items (default: every item with fewer real reviews than the minimum).")


class GeneratedReviewOut(BaseModel):
    text: str
    model: str
    prompt_version: str
    created_at: datetime
    generated: bool = Field(True, description="Always true: written by a language model, not by a shopper.")


class GeneratedReviews(BaseModel):
    item_id: str
    reviews: list[GeneratedReviewOut]
