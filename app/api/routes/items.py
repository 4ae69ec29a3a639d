"""Catalog: items, one at a time and in bulk."""

from fastapi import APIRouter, HTTPException, Response

from app.api import V1
from app.api.deps import ItemId, SessionDep, SettingsDep, WriteKey
from app.api.schemas import ItemBatch, ItemIn, ItemOut, Upserted
from app.core.config import Settings
from app.encoder.pipeline import ReviewTexts, is_current
from app.store import crud

router = APIRouter(prefix=f"{V1}/items", tags=["items"])


def _item_out(settings: Settings, session, item) -> ItemOut:
    out = ItemOut.model_validate(item, from_attributes=True)
    out.embedded = is_current(session, "item", item.item_id, settings.encoder_name, ReviewTexts.of(settings))
    return out


@router.put("/{item_id}", response_model=ItemOut)
def put_item(item_id: ItemId, body: ItemIn, session: SessionDep, settings: SettingsDep, _: WriteKey) -> ItemOut:
    """Create or replace an item. Sending the same item again changes nothing."""
    crud.upsert_items(session, [{"item_id": item_id, **body.model_dump()}])
    return _item_out(settings, session, crud.get_item(session, item_id))


@router.post("/batch", response_model=Upserted)
def post_items(body: ItemBatch, session: SessionDep, _: WriteKey) -> Upserted:
    """Upsert up to 10,000 items in one transaction: all of them or none."""
    return Upserted(upserted=crud.upsert_items(session, (r.model_dump() for r in body.items)))


@router.get("/{item_id}", response_model=ItemOut, responses={404: {"description": "Unknown item"}})
def get_item(item_id: ItemId, session: SessionDep, settings: SettingsDep, _: WriteKey) -> ItemOut:
    item = crud.get_item(session, item_id)
    if item is None:
        raise HTTPException(404, f"item_id {item_id!r} not found")
    return _item_out(settings, session, item)


@router.delete("/{item_id}", status_code=204, responses={404: {"description": "Unknown item"}})
def delete_item(item_id: ItemId, session: SessionDep, _: WriteKey) -> Response:
    """The item is never recommended again; its interaction history stays."""
    if not crud.delete_item(session, item_id):
        raise HTTPException(404, f"item_id {item_id!r} not found")
    return Response(status_code=204)
