"""Model versions: each with its metrics, parameters and what it knows about itself (its validation)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator


class RouteValidation(BaseModel):
    """One route family's carve: every candidate's figure, the one chosen, and what it scored."""

    served: float | None = Field(description="The chosen candidate's figure on the carve.")
    chosen: str = Field(description="The candidate served: `default` (the trainer's default blend), a peer alone "
                        "(`item_knn`, `tfidf`, `tfidf_reviews`, `dense_text`, `ease`, `popularity`, `factors`, "
                        "`text_map`) or a `blend ...`; for new shoppers `neighbours` (the default), `item_knn`, "
                        "`popularity` or `factors`.")
    weights: dict[str, float] = Field(description="The weights the version serves for this route family.")
    candidates: dict[str, float] = Field(description="Candidate name -> its figure on the same held-out events.")
    events: int = Field(description="How many held-out users (events, for the context) the figures are over.")
    metric: str = Field(description="The figure: recall@k (ndcg@k for new shoppers).")
    evidence: dict[str, Any] | None = Field(
        None, description="The best candidate, its gain over the default and the standard error of that gain: a "
        "switch needs a clear one; which text each text term reads (`lexical_text`, `content_text`: `catalog`, "
        "`reviews` or `vectors`).")


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
        "`new_items`, `new_users`) and for the context weights (`context`), the candidates' figures on the shop's "
        "own held-out events, the one chosen and served.")

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
