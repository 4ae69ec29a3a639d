"""Bodies of the online metrics route (`GET /v1/metrics/online`; docs/online.md defines each figure)."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Interval = Annotated[list[float], Field(min_length=2, max_length=2, description="[low, high], the 95% Wilson "
                                                                                "interval.")]


class Intervals(BaseModel):
    ctr: Interval
    conversion: Interval


class Point(BaseModel):
    at: datetime = Field(description="The bucket's start (UTC).")
    impressions: int
    clicks: int
    purchases: int
    ctr: float


class OnlineGroup(BaseModel):
    key: str | None = Field(description="The model version, variant or route; null: none (answers made before "
                            "any model, or outside any experiment).")
    impressions: int = Field(description="Items shown (one per item per answer) in the period.")
    clicks: int = Field(description="Shown items (answer, item) that a credited click named.")
    carts: int = Field(description="Shown items that a credited cart event named.")
    purchases: int = Field(description="Shown items that a credited purchase named.")
    ctr: float = Field(description="clicks / impressions (0 without impressions).")
    conversion: float = Field(description="purchases / impressions.")
    ci95: Intervals
    series: list[Point] | None = Field(None, description="With `bucket`: the figures per hour or day, oldest "
                                       "first; buckets without impressions or credits left out.")


class Activation(BaseModel):
    version: str
    at: datetime


class OnlineMetrics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from", description="The period's start (included).")
    to: datetime = Field(description="The period's end (excluded).")
    by: str
    groups: list[OnlineGroup]
    activations: list[Activation] = Field(description="Each model version activation in the period (training "
                                          "or rollback), oldest first, for curves to mark.")
