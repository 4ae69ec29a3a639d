"""Segments of users in a model version: their list, members, and the reference a user carries."""

from pydantic import BaseModel, Field


class SegmentRef(BaseModel):
    segment_id: int
    label: str


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
