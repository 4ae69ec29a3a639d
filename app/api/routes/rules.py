"""Merchandising rules (role write): boost, bury, pin or promote items in the lists whose request a rule
matches (``app.recommender.rules``). A write bumps the serving epoch, so every API process applies it from
its next answer on."""

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import JSONResponse

from app.api import V1
from app.api.deps import ItemId, SessionDep, WriteKey
from app.api.rule_schemas import RuleIn, RuleList, RuleOut
from app.store import rules as store

router = APIRouter(prefix=f"{V1}/rules", tags=["rules"])
RuleId = ItemId  # the same id pattern


def _out(rule) -> RuleOut:
    return RuleOut.model_validate(rule, from_attributes=True)


@router.put("/{rule_id}", response_model=RuleOut, responses={201: {"model": RuleOut, "description": "Created."}})
def put_rule(rule_id: RuleId, body: RuleIn, session: SessionDep, _: WriteKey) -> JSONResponse:
    """Create (201) or replace (200) a rule; it counts in the next answer of every API process."""
    fields = body.model_dump(mode="json", exclude={"starts_at", "ends_at"}, exclude_none=False)
    fields["when"] = body.when.model_dump(exclude_none=True)
    fields["items"] = body.items.model_dump(exclude_none=True)
    rule, created = store.put_rule(session, rule_id, {**fields, "starts_at": body.starts_at,
                                                      "ends_at": body.ends_at})
    return JSONResponse(_out(rule).model_dump(mode="json"), status_code=201 if created else 200)


@router.get("", response_model=RuleList)
def list_rules(session: SessionDep, _: WriteKey) -> RuleList:
    """Every rule, active or not, by rule_id."""
    return RuleList(rules=[_out(r) for r in store.list_rules(session)])


@router.get("/{rule_id}", response_model=RuleOut, responses={404: {"description": "Unknown rule"}})
def get_rule(rule_id: RuleId, session: SessionDep, _: WriteKey) -> RuleOut:
    rule = store.get_rule(session, rule_id)
    if rule is None:
        raise HTTPException(404, f"rule_id {rule_id!r} not found")
    return _out(rule)


@router.delete("/{rule_id}", status_code=204, responses={404: {"description": "Unknown rule"}})
def delete_rule(rule_id: RuleId, session: SessionDep, _: WriteKey) -> Response:
    """The rule acts on no later answer."""
    if not store.delete_rule(session, rule_id):
        raise HTTPException(404, f"rule_id {rule_id!r} not found")
    return Response(status_code=204)
