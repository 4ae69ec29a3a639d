"""Bodies of the store-at-a-glance routes (`/v1/stats`, `/v1/key`)."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class KeyOut(BaseModel):
    role: Literal["read", "write"]


class DayCount(BaseModel):
    day: date
    events: int


class StoreStats(BaseModel):
    items: int = Field(description="Items in the catalog (deleted ones not counted).")
    available_items: int
    users: int
    events: int
    events_by_type: dict[str, int]
    embedded_items: int = Field(description="Items with a vector from the configured encoder.")
    embedded_users: int
    newest_event: datetime | None
    events_per_day: list[DayCount] = Field(description="UTC days up to the newest event's; days without events "
                                           "left out.")
