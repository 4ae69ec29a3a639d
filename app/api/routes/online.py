"""Online metrics (role write): how the answers shown did, per model version, variant or route.

`impressions` counts the items shown in [`from`, `to`) (one row per item per answer; none are kept with
`SEMREC_IMPRESSIONS=false`); `clicks`, `carts` and `purchases` count the shown (answer, item) pairs that a
credited event of that type named (app.measure.attribution: the event's `recommendation_id`, else the latest
answer that showed the item to the user within `SEMREC_ATTRIBUTION_HOURS`), whenever the event came; `ctr` =
clicks / impressions, `conversion` = purchases / impressions, each with its 95% Wilson interval. The newest
fifth of a second of impressions may still be in an API process's memory (`SEMREC_IMPRESSIONS_FLUSH_SECONDS`).
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.api import V1
from app.api.deps import SessionDep, WriteKey
from app.api.online_schemas import OnlineMetrics
from app.api.schemas import Timestamp
from app.core.errors import FieldError
from app.measure import attribution, online

router = APIRouter(prefix=f"{V1}/metrics", tags=["ops"])
DEFAULT_PERIOD = timedelta(days=7)


@router.get("/online", response_model=OnlineMetrics)
def online_metrics(
    session: SessionDep, _: WriteKey,
    from_: Annotated[Timestamp | None, Query(alias="from", description="Start, ISO 8601 (UTC when no offset); "
                                             "default: 7 days before `to`.")] = None,
    to: Annotated[Timestamp | None, Query(description="End (excluded), ISO 8601; default: now.")] = None,
    by: Annotated[Literal["version", "variant", "route"], Query(description="Group by the answers' model "
                                                                "version, experiment variant or route.")] = "version",
    bucket: Annotated[Literal["hour", "day"] | None, Query(description="Also give each group's `series` per "
                                                           "UTC hour or day.")] = None,
) -> OnlineMetrics:
    """Impressions, clicks, carts, purchases, CTR and conversion with 95% Wilson intervals per group, and the
    model activations of the period (see the module's definitions, docs/online.md)."""
    end = to or datetime.now(UTC)
    start = from_ or attribution.shift(end, -DEFAULT_PERIOD)
    if start > end:
        raise FieldError(422, "from", "must not be after `to`")
    return OnlineMetrics.model_validate({
        "from": start, "to": end, "by": by, "groups": online.figures(session, by, start, end, bucket),
        "activations": online.activations(session, start, end)})
