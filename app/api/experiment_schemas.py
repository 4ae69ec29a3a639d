"""Experiments (PUT /v1/experiments/{experiment_id}): the variants compared, how (A/B or interleaving), by
which metric, on which list routes and when; and what one reads back: each variant's figures, the difference
and the decision (docs/online.md, "Experiments")."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from app.api.schemas import Body, Timestamp, ends_after_start

ROUTES = ("recommendations", "session", "similar", "bought_together", "trending")
Route = Literal[ROUTES]
Method = Literal["ab", "interleaving"]
Metric = Literal["ctr", "conversion"]
Status = Literal["scheduled", "running", "stopped", "ended"]
VARIANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"
VariantName = Annotated[str, StringConstraints(pattern=VARIANT_PATTERN), Field(
    description="1-64 characters of A-Z a-z 0-9 . _ : @ -; unique within the experiment. Not `interleaved`.")]
VersionName = Annotated[str, StringConstraints(pattern=VARIANT_PATTERN)]

EXPERIMENT_EXAMPLE = {"method": "ab", "metric": "ctr", "routes": ["recommendations"], "min_lift": 0.1,
                      "variants": [{"name": "control"}, {"name": "diverse", "params": {"diversity": 0.3}}]}


class VariantParams(Body):
    """How this variant's lists differ from the plain ones."""

    diversity: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="Replaces the request's `diversity` (0-1) in this variant's lists.")
    rules: bool | None = Field(None, description="false: this variant's lists skip the merchandising rules.")


class VariantIn(Body):
    name: VariantName
    model_version: VersionName | None = Field(None, description="The model version that makes this variant's "
                                              "lists (GET /v1/models); none: the active one.")
    params: VariantParams = Field(default_factory=VariantParams)
    weight: Annotated[float, Field(gt=0, le=1000)] = Field(
        1.0, description="Its share of the shoppers, relative to the other variants' weights (A/B).")


class ExperimentIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [EXPERIMENT_EXAMPLE]})

    method: Method = Field(description="`ab`: each shopper sees one variant's lists; `interleaving`: both "
                           "variants' lists merged into one by team draft, clicks credited to the team that "
                           "placed the item.")
    metric: Metric = Field("ctr", description="What a list must get to count as a success: a credited click "
                           "(`ctr`) or purchase (`conversion`).")
    variants: Annotated[list[VariantIn], Field(min_length=2, max_length=4)] = Field(
        description="2-4 for `ab` (the first is the control), exactly 2 for `interleaving`.")
    routes: Annotated[list[Route], Field(min_length=1, max_length=len(ROUTES))] | None = Field(
        None, description="The list routes it runs on; none: all of them. At most one running experiment per "
        "route.")
    min_lift: Annotated[float, Field(gt=0, le=10)] = Field(
        0.1, description="The smallest relative effect worth finding (0.1: a 10% higher rate): sizes the plan.")
    base_rate: Annotated[float, Field(gt=0, lt=1)] | None = Field(
        None, description="The metric's rate per list shown today; none: measured on these routes over the last "
        "7 days (0.05 when nothing was shown).")
    starts_at: Timestamp | None = Field(None, description="ISO 8601; UTC when no offset; none: now.")
    ends_at: Timestamp | None = Field(None, validate_default=True, description="After `starts_at`; none: open.")

    @field_validator("variants")
    @classmethod
    def _variants_fit_the_method(cls, variants: list[VariantIn], info: ValidationInfo) -> list[VariantIn]:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        if "interleaved" in names:
            raise ValueError("`interleaved` names the merged lists of an interleaving experiment: pick another")
        if info.data.get("method") == "interleaving" and len(variants) != 2:
            raise ValueError("interleaving compares exactly 2 variants")
        return variants

    @field_validator("routes")
    @classmethod
    def _routes_once(cls, routes: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(routes)) if routes is not None else None

    _ends_after_start = field_validator("ends_at")(ends_after_start)


class VariantOut(BaseModel):
    name: str
    model_version: str | None
    params: dict = Field(description="`diversity`, `rules` as given.")
    weight: float
    lists: int = Field(description="Lists shown that this variant made (interleaving: the merged lists, the same "
                       "for both).")
    successes: int = Field(description="A/B: its lists that got a credited click (ctr) or purchase "
                           "(conversion); interleaving: the merged lists this variant won.")
    rate: float = Field(description="successes / lists.")
    ci95: list[float] = Field(description="The rate's 95% Wilson interval [lo, hi].")


class Difference(BaseModel):
    """The second variant against the first: A/B, its rate minus the first's (z-test); interleaving, its share
    of the decisive lists minus 0.5 (sign test). Null with more than two variants."""

    value: float
    ci95: list[float]
    p_value: float


class ExperimentOut(BaseModel):
    experiment_id: str
    method: Method
    metric: Metric
    routes: list[str]
    status: Status = Field(description="`scheduled` (before starts_at), `running`, `stopped` (POST .../stop) or "
                           "`ended` (past ends_at).")
    planned: int = Field(description="Lists to show before the decision is read (A/B: per variant; "
                         "interleaving: in all), from base_rate and min_lift at power 0.8, alpha 0.05.")
    reached: int = Field(description="Lists shown so far in the unit of `planned`.")
    min_lift: float
    base_rate: float = Field(description="The base rate the plan assumed (given, or measured at the PUT).")
    starts_at: datetime | None
    ends_at: datetime | None
    stopped_at: datetime | None
    created_at: datetime
    variants: list[VariantOut]
    difference: Difference | None
    decision: str = Field(description="`none yet` until `planned` is reached (no peeking), then the winning "
                          "variant's name or `no difference`.")


class ExperimentList(BaseModel):
    experiments: list[ExperimentOut]
