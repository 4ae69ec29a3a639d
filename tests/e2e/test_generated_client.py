"""A client generated from the live server's /openapi.json works (issue #31): openapi-python-client writes it
offline, and the README's walk-through runs through it with no parsing of our own. Every answer comes back as
one of the generated model classes, errors included (ErrorOut naming the field or id)."""

import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from scripts.lib.service import spawned_service

pytestmark = pytest.mark.e2e
PACKAGE = "semrec_client"


@pytest.fixture(scope="module")
def server():
    with spawned_service() as svc:
        yield svc


@pytest.fixture(scope="module")
def generated(server, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """The client package, generated from the document the server serves and imported from a temporary folder."""
    tmp = tmp_path_factory.mktemp("generated-client")
    (tmp / "openapi.json").write_bytes(server.client.get("/openapi.json").raise_for_status().content)
    (tmp / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: nothing to fetch, nothing to wait for
    cli = Path(sys.executable).parent / "openapi-python-client"
    run = subprocess.run(
        [str(cli), "generate", "--path", str(tmp / "openapi.json"), "--output-path", str(tmp / PACKAGE),
         "--meta", "none", "--config", str(tmp / "config.yaml"), "--fail-on-warning"],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr  # no operation or schema skipped
    sys.path.insert(0, str(tmp))
    try:
        def module(name: str):
            return importlib.import_module(f"{PACKAGE}.{name}")

        yield SimpleNamespace(module=module, models=module("models"), types=module("types"),
                              client=module("client").AuthenticatedClient(
                                  base_url=server.url, token=server.key, prefix="", auth_header_name="X-API-Key",
                                  raise_on_unexpected_status=True, timeout=httpx.Timeout(120)))
    finally:
        sys.path.remove(str(tmp))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _call(gen: SimpleNamespace, operation: str, **kwargs):
    """``items.put_item_v1_items_item_id_put`` -> its ``sync_detailed`` on the keyed client."""
    return gen.module(f"api.{operation}").sync_detailed(client=gen.client, **kwargs)


def test_the_readme_walk_through_through_a_generated_client(generated):
    started = time.monotonic()
    g, m = generated, generated.models

    # the catalog, a shopper and their events
    r = _call(g, "items.put_item_v1_items_item_id_put", item_id="sku-1", body=m.ItemIn(
        title="Trail running shoes", category="shoes", price=89.9,
        attributes=m.ItemInAttributes.from_dict({"brand": "Stride"})))
    assert r.status_code == 200 and isinstance(r.parsed, m.ItemOut), r.content
    assert r.parsed.item_id == "sku-1" and r.parsed.attributes["brand"] == "Stride"
    r = _call(g, "items.post_items_v1_items_batch_post", body=m.ItemBatch(items=[
        m.ItemRecord(item_id="sku-2", title="Espresso machine", category="kitchen", price=249),
        m.ItemRecord(item_id="sku-3", title="Waterproof trail shoes", category="shoes", price=119)]))
    assert r.status_code == 200 and isinstance(r.parsed, m.Upserted) and r.parsed.upserted == 2, r.content
    r = _call(g, "users.put_user_v1_users_user_id_put", user_id="u-42",
              body=m.UserIn(profile_text="Runs trails at weekends"))
    assert r.status_code == 200 and isinstance(r.parsed, m.UserOut), r.content
    r = _call(g, "interactions.post_interactions_v1_interactions_post", body=m.InteractionBatch(interactions=[
        m.InteractionIn(user_id="u-42", item_id="sku-1", type_=m.InteractionInType.RATING, value=5,
                        text="Great grip", event_id="e-1"),
        m.InteractionIn(user_id="u-43", item_id="sku-2", type_=m.InteractionInType.PURCHASE, event_id="e-2",
                        context=m.EventContext(device="mobile"))]))
    assert r.status_code == 200 and isinstance(r.parsed, m.IngestResult), r.content
    assert (r.parsed.accepted, r.parsed.duplicates, r.parsed.created_users) == (2, 0, 1)

    # train with the defaults (no body), follow the job until it ends
    r = _call(g, "jobs.post_training_job_v1_training_jobs_post")
    assert r.status_code == 202 and isinstance(r.parsed, m.JobAccepted), r.content
    job_id, deadline = r.parsed.job_id, time.monotonic() + 120
    while (job := _call(g, "jobs.get_job_v1_jobs_job_id_get", job_id=job_id).parsed).status in ("queued", "running"):
        assert time.monotonic() < deadline, job.to_dict()
        time.sleep(0.25)
    assert isinstance(job, m.JobOut) and job.status == "succeeded", job.to_dict()
    version = job.result["model_version"]

    # ask
    r = _call(g, "recommendations.user_recommendations_v1_users_user_id_recommendations_get",
              user_id="u-42", k=2, explain=True)
    assert r.status_code == 200 and isinstance(r.parsed, m.RecommendationList), r.content
    listed = r.parsed
    assert listed.model_version == version and listed.strategy == m.RecommendationListStrategy.PERSONALIZED
    assert all(isinstance(i, m.RecommendedItem) and isinstance(i.because, str) for i in listed.items)
    assert "sku-1" not in {i.item_id for i in listed.items} and len(listed.items) == 2  # seen items stay out
    r = _call(g, "recommendations.rank_v1_users_user_id_rank_post", user_id="u-42",
              body=m.RankIn(item_ids=["sku-1", "sku-2", "sku-3", "sku-nope"]))
    assert r.status_code == 200 and isinstance(r.parsed, m.RankedList), r.content
    assert sorted(i.item_id for i in r.parsed.items) == ["sku-1", "sku-2", "sku-3"]
    assert r.parsed.unknown == ["sku-nope"] and all(isinstance(i, m.RankedItem) for i in r.parsed.items)
    scores = [i.score for i in r.parsed.items]
    assert scores == sorted(scores, reverse=True)
    r = _call(g, "recommendations.recommend_v1_recommendations_post",
              body=m.RecommendIn(query="light shoes for muddy trails", k=2))
    assert r.status_code == 200 and isinstance(r.parsed, m.RecommendationList), r.content
    assert r.parsed.strategy == m.RecommendationListStrategy.TEXT
    assert {i.item_id for i in r.parsed.items} == {"sku-1", "sku-3"}  # the two shoes, not the espresso machine

    # a conversation: no body to start it, then words
    r = _call(g, "conversations.create_conversation_v1_conversations_post")
    assert r.status_code == 201 and isinstance(r.parsed, m.ConversationCreated), r.content
    conversation_id = r.parsed.conversation_id
    r = _call(g, "conversations.post_message_v1_conversations_conversation_id_messages_post",
              conversation_id=conversation_id, body=m.MessageIn(text="shoes under 150, no leather", k=2))
    assert r.status_code == 200 and isinstance(r.parsed, m.MessageOut), r.content
    said = r.parsed
    assert isinstance(said.understood, m.Understood) and said.understood.max_price == 150
    assert said.understood.exclude == ["leather"] and said.reply
    assert {i.item_id for i in said.items} == {"sku-1", "sku-3"}
    assert all(isinstance(i, m.ConversationItem) for i in said.items)

    # errors come back as ErrorOut: a shape the schema rejects is a 422 naming the field ...
    r = _call(g, "interactions.post_interactions_v1_interactions_post", body=m.InteractionBatch(interactions=[
        m.InteractionIn(user_id="u-42", item_id="sku-2", type_=m.InteractionInType.RATING)]))
    assert r.status_code == 422 and isinstance(r.parsed, m.ErrorOut), r.content
    assert r.parsed.detail.startswith("interactions[0].value: ")
    assert isinstance(r.parsed.errors[0], m.FieldError) and r.parsed.errors[0].field == "interactions[0].value"
    # ... and a valid shape naming something absent a 404 naming it
    r = _call(g, "conversations.post_message_v1_conversations_conversation_id_messages_post",
              conversation_id=conversation_id,
              body=m.MessageIn(feedback=[m.Feedback(item_id="sku-404", signal=m.FeedbackSignal.DISLIKE)]))
    assert r.status_code == 404 and isinstance(r.parsed, m.ErrorOut) and "sku-404" in r.parsed.detail, r.content
    r = _call(g, "jobs.get_job_v1_jobs_job_id_get", job_id="no-such-job")
    assert r.status_code == 404 and isinstance(r.parsed, m.ErrorOut) and "no-such-job" in r.parsed.detail
    assert time.monotonic() - started < 90  # 10-40 s here (the host is shared), most of it the training job
