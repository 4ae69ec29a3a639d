"""Generated reviews (write key): a job that writes them, and an item's, labelled as generated."""

from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from app.api import V1
from app.api.deps import ItemId, SessionDep, WriteKey
from app.api.job_schemas import JobAccepted
from app.api.review_schemas import GeneratedReviews, ReviewJobIn
from app.core.errors import FieldError
from app.store import queue
from app.store.models import GeneratedReview, Item

router = APIRouter(prefix=V1, tags=["generated reviews"])


@router.post("/reviews/jobs", status_code=202, response_model=JobAccepted,
             responses={404: {"description": "An item of `item_ids` is unknown (or deleted): `detail` names it."}})
def post_reviews_job(session: SessionDep, _: WriteKey, body: ReviewJobIn = ReviewJobIn()) -> JobAccepted:
    """Queue a job that writes reviews with the generator language model for items with fewer than
    `SEMREC_REVIEWS_MIN_REAL` shoppers' review texts. They are synthetic: kept apart from interactions, never
    events, always labelled. No body: the defaults. Follow it with `GET /v1/jobs/{job_id}`."""
    if body.item_ids:
        known = set(session.scalars(select(Item.item_id).where(Item.item_id.in_(body.item_ids),
                                                               Item.deleted_at.is_(None))))
        for n, item_id in enumerate(body.item_ids):
            if item_id not in known:
                raise FieldError(404, f"item_ids[{n}]", f"unknown item {item_id!r}")
    job = queue.enqueue(session, "reviews", body.model_dump(exclude_none=True))
    return JobAccepted(job_id=job.job_id, status=job.status)


@router.get("/items/{item_id}/generated-reviews", response_model=GeneratedReviews,
            responses={404: {"description": "Unknown item"}})
def get_generated_reviews(item_id: ItemId, session: SessionDep, _: WriteKey) -> GeneratedReviews:
    """The item's generated reviews, oldest first, each with the model and prompt version that wrote it."""
    if session.scalar(select(Item.item_id).where(Item.item_id == item_id, Item.deleted_at.is_(None))) is None:
        raise HTTPException(404, f"item_id {item_id!r} not found")
    rows = session.scalars(select(GeneratedReview).where(GeneratedReview.item_id == item_id)
                           .order_by(GeneratedReview.id))
    return GeneratedReviews(item_id=item_id, reviews=[
        {"text": r.text, "model": r.model, "prompt_version": r.prompt_version, "created_at": r.created_at}
        for r in rows])
