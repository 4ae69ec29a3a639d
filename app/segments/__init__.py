"""Segments: users grouped by clustering their vectors (tastes and text), fit with each model version, each
described by what sets it apart: its top categories, distinctive words of its items, its top items.

    fit(taste, text, has_text, users, items, item_ids, item_categories, item_words, n_segments) -> Segments
    Segments.describe() / .of(user_position) / .members(segment_id)        (app.segments.model)
    distinctive(in_segment, overall, top) -> indexes          the ranking both the labels and the evaluation use
"""

from app.segments.model import Segments, distinctive, fit

__all__ = ["Segments", "distinctive", "fit"]
