"""What a shop steers a list with, on a trained model, on SQLite and PostgreSQL: filters on any attribute, a
list of categories, only or never these items (applied before the top k: no item lost), a visitor known only by
this session's items, and diversity."""

import json

import numpy as np
import pytest

from app.recommender import ranking
from tests.conftest import READ_KEY, WRITE_KEY, open_client
from tests.recommender.test_routes import train

BRANDS = ["Stride", "Trail", "Peak"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def trained(request, tmp_path_factory, packaged_encoder):
    """90 items in 3 categories x 3 brands, some waterproof; shoppers stick to one category. One store per
    backend for the module: the tests only read it (one adds a visitor of its own)."""
    from app.core.config import Settings

    tmp = tmp_path_factory.mktemp(f"steering-{request.param}")
    url = f"sqlite:///{tmp / 'semrec.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    settings = Settings(database_url=url, data_dir=tmp / "data", api_keys=f"{WRITE_KEY}:write,{READ_KEY}:read",
                        embedded_worker=False, refresh_seconds=3600, _env_file=None)
    with open_client(settings) as client:
        _seed(client, packaged_encoder)
        yield client


def _seed(client, packaged_encoder):
    client.post("/v1/items/batch", json={"items": [
        {"item_id": f"i{n}", "title": f"Item {n}", "category": f"c{n % 3}", "price": float(n),
         "attributes": {"brand": BRANDS[(n // 3) % 3], "waterproof": n % 2 == 0, "size": n % 5}}
        for n in range(90)]})
    events = [{"user_id": f"u{u}", "item_id": f"i{n}", "type": "click"}
              for u in range(45) for n in range((u % 3) + 3 * (u % 7), 90, 9)][:600]
    client.post("/v1/interactions", json={"interactions": events})
    train(client, packaged_encoder)


def ask(client, user="u0", **query):
    r = client.get(f"/v1/users/{user}/recommendations", params=query, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    return [i["item_id"] for i in r.json()["items"]]


def post(client, **body):
    r = client.post("/v1/recommendations", json=body, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200, r.text
    return r.json()


def number(item_id: str) -> int:
    return int(item_id[1:])


def test_attribute_filters_hold_and_keep_k(trained):
    client = trained
    # Equality, JSON types apart: waterproof true (a boolean), size 2 (a number).
    ids = ask(client, k=10, attributes="waterproof:true")
    assert len(ids) == 10 and all(number(i) % 2 == 0 for i in ids)
    ids = ask(client, k=10, attributes=["brand:Stride", "brand:Peak", "size:2"])
    assert ids and all(BRANDS[(number(i) // 3) % 3] in ("Stride", "Peak") and number(i) % 5 == 2 for i in ids)
    assert ask(client, k=10, attributes="size:2.0") == ask(client, k=10, attributes="size:2")  # numbers are numbers
    assert not ask(client, k=10, attributes="waterproof:1")  # 1 is not true
    assert not ask(client, k=10, attributes='brand:"true"')  # the text "true": no brand is called that
    assert not ask(client, k=10, attributes="colour:red")  # no item has it
    # The same filters in a POST body.
    body = post(client, user_id="u0", k=10, filters={"attributes": {"brand": "Trail"}, "category": ["c1", "c2"]})
    ids = [i["item_id"] for i in body["items"]]
    assert len(ids) == 10
    assert all(BRANDS[(number(i) // 3) % 3] == "Trail" and number(i) % 3 in (1, 2) for i in ids)


def test_a_list_of_categories_only_and_never_these_items(trained):
    client = trained
    ids = ask(client, "u1", k=20, category=["c0", "c2"])
    assert len(ids) == 20 and all(number(i) % 3 in (0, 2) for i in ids)
    only = [f"i{n}" for n in range(60, 75)]
    ids = ask(client, "u1", k=10, item_ids=only)
    assert len(ids) == 10 and set(ids) <= set(only)
    plain = ask(client, "u1", k=10)
    ids = ask(client, "u1", k=10, exclude_item_ids=plain[:5])
    assert len(ids) == 10 and not set(ids) & set(plain[:5])
    assert ids[:5] == plain[5:]  # the rest keep their order; the list is topped up, not cut


def test_a_price_change_counts_in_the_next_filtered_list(trained):
    """The masks of filters are kept per catalog: the same filters after an item's price moved must see it."""
    client = trained
    before = ask(client, "u1", k=5, category="c0", max_price=60)
    moved = before[0]
    n = number(moved)
    item = {"title": f"Item {n}", "category": f"c{n % 3}",
            "attributes": {"brand": BRANDS[(n // 3) % 3], "waterproof": n % 2 == 0, "size": n % 5}}
    try:
        r = client.put(f"/v1/items/{moved}", json={**item, "price": 500.0}, headers={"X-API-Key": WRITE_KEY})
        assert r.status_code == 200, r.text
        after = ask(client, "u1", k=5, category="c0", max_price=60)
        assert moved not in after and len(after) == 5 and all(number(i) <= 60 for i in after)
    finally:
        client.put(f"/v1/items/{moved}", json={**item, "price": float(n)}, headers={"X-API-Key": WRITE_KEY})
    assert ask(client, "u1", k=5, category="c0", max_price=60) == before


def test_bad_filters_are_a_422_naming_the_field(trained):
    client = trained
    too_many = [f"i{n}" for n in range(1001)]
    for query, field in (({"attributes": "no colon"}, "attributes"), ({"attributes": ":no name"}, "attributes"),
                         ({"min_price": "nan"}, "min_price"), ({"exclude_item_ids": too_many}, "exclude_item_ids"),
                         ({"item_ids": "bad id!"}, "item_ids"), ({"diversity": 1.5}, "diversity")):
        r = client.get("/v1/users/u0/recommendations", params=query, headers={"X-API-Key": READ_KEY})
        assert r.status_code == 422 and r.json()["detail"].startswith(field), (query, r.text)
    r = client.post("/v1/recommendations", json={"filters": {"attributes": {"brand": {"nested": 1}}}},
                    headers={"X-API-Key": READ_KEY})
    assert r.status_code == 422 and "attributes" in r.json()["detail"]
    r = client.post("/v1/recommendations", json={"items": [f"i{n}" for n in range(101)]},
                    headers={"X-API-Key": READ_KEY})
    assert r.status_code == 422 and r.json()["detail"].startswith("items")


def test_a_session_ranks_like_a_stored_visitor_with_the_same_events(trained):
    client = trained
    viewed = ["i3", "i12", "i21"]  # category c0
    session = post(client, items=viewed, k=10)
    ids = [i["item_id"] for i in session["items"]]
    assert session["strategy"] == "personalized" and len(ids) == 10 and not set(ids) & set(viewed)
    client.post("/v1/interactions", json={"interactions": [
        {"user_id": "visitor", "item_id": i, "type": "view"} for i in viewed]})
    assert ask(client, "visitor", k=10) == ids  # the same items through both doors
    # Another session is another visitor; the same session asked again, the same list.
    other = [i["item_id"] for i in post(client, items=["i1", "i10"], k=10)["items"]]
    assert other != ids and [i["item_id"] for i in post(client, items=viewed, k=10)["items"]] == ids
    # With a user: their stored events and this session's together; both left out.
    mixed = [i["item_id"] for i in post(client, user_id="u0", items=["i40"], k=10)["items"]]
    assert "i40" not in mixed and len(mixed) == 10


def test_diversity_spreads_the_list_and_zero_keeps_it(trained):
    client = trained
    plain = [i["item_id"] for i in post(client, user_id="u2", k=10)["items"]]
    assert [i["item_id"] for i in post(client, user_id="u2", k=10, diversity=0)["items"]] == plain
    spread = [i["item_id"] for i in post(client, user_id="u2", k=10, diversity=0.9)["items"]]
    assert len(spread) == 10 and spread[0] == plain[0]  # the best item still leads
    categories = {number(i) % 3 for i in spread}
    assert len(categories) > len({number(i) % 3 for i in plain}) or len(categories) == 3
    assert ask(client, "u2", k=10, diversity=0.9) == spread  # GET takes it as a query parameter


def test_similar_items_and_conversations_take_the_same_filters(trained):
    client = trained
    ids = [i["item_id"] for i in client.get("/v1/items/i3/similar", headers={"X-API-Key": READ_KEY}, params={
        "k": 8, "attributes": "waterproof:false", "exclude_item_ids": ["i5", "i7"]}).json()["items"]]
    assert len(ids) == 8 and all(number(i) % 2 == 1 for i in ids) and not {"i3", "i5", "i7"} & set(ids)
    conversation = client.post("/v1/conversations", json={}, headers={"X-API-Key": READ_KEY}).json()
    r = client.post(f"/v1/conversations/{conversation['conversation_id']}/messages", headers={"X-API-Key": READ_KEY},
                    json={"text": "something nice", "k": 6, "filters": {"attributes": {"brand": "Peak"},
                                                                        "max_price": 60}})
    assert r.status_code == 200, r.text
    ids = [i["item_id"] for i in r.json()["items"]]
    assert len(ids) == 6 and all(BRANDS[(number(i) // 3) % 3] == "Peak" and number(i) <= 60 for i in ids)


def test_a_filtered_search_over_the_grouped_vectors_is_the_exact_top_k(trained):
    state = trained.app.state.recommender.fresh_state()
    index = state.model.index
    assert index._grouped is not None  # grouped by category when the version was loaded
    rng = np.random.default_rng(0)
    for _ in range(20):
        query = np.append(rng.normal(0, 1, index.vectors.shape[1] - 1), 1.0).astype(np.float32)
        query[:-1] *= rng.choice([0.0, 1.0])  # every other query scores by the bias alone: ties of equal items
        eligible = np.zeros(len(state.catalog.item_ids), bool)
        eligible[:state.model.n_items] = state.catalog.category_codes[:state.model.n_items] == rng.integers(3)
        eligible &= rng.random(len(eligible)) < 0.8
        positions, scores = ranking.search(state, index, state.fresh_vectors, query, eligible, 7)
        rows = np.flatnonzero(eligible[:state.model.n_items])
        exact = index.vectors[rows] @ query
        best = np.lexsort((rows, -exact))[:7]  # by score, ties by position
        assert positions.tolist() == rows[best].tolist()
        assert np.allclose(scores, exact[best], atol=1e-5)


RULES = {  # one of every kind, in force on every list route they name
    "bb-pin": {"action": "pin", "items": {"item_ids": ["i20"]}, "position": 2},
    "bb-boost": {"action": "boost", "items": {"attributes": {"brand": "Peak"}}, "factor": 3.0},
    "bb-bury": {"action": "bury", "items": {"category": "c1"}, "factor": 0.2},
    "bb-promote": {"action": "promote", "items": {"attributes": {"waterproof": True}}, "share": 0.3},
}


def _passes(n: int, f: dict) -> bool:
    """Whether item ``n`` of the seeded catalog passes the filters ``f`` (as the body's ``filters``)."""
    attributes = {"brand": BRANDS[(n // 3) % 3], "waterproof": n % 2 == 0, "size": n % 5}
    return ((f.get("category") is None or f"c{n % 3}" in f["category"])
            and f.get("min_price", 0) <= n <= f.get("max_price", 1e9)
            and all(attributes[name] in values for name, values in f.get("attributes", {}).items())
            and (f.get("item_ids") is None or f"i{n}" in f["item_ids"])
            and f"i{n}" not in f.get("exclude_item_ids", []))


def test_every_filter_and_rule_holds_in_every_answer(trained):
    """A black-box check over the list routes (a user's list and a session's, similar items, trending), with a
    rule of every kind in force: for random filters (any mix of categories, price bounds, attributes, only and
    never these items; in a body or as query parameters), every answer's items pass them all and are never
    the user's, the session's or the asked item's own; the lists fill k wherever k items pass and carry the
    pin at its place whenever the pinned item passes (trending lists only items with recent events); never
    a 5xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    client = trained
    write = {"X-API-Key": WRITE_KEY}
    for rule_id, rule in RULES.items():
        assert client.put(f"/v1/rules/{rule_id}", json=rule, headers=write).status_code in (200, 201)
    seen = {f"i{n}" for n in range(0, 90, 9)}  # u0's clicks (the seed's first user)
    ids = st.lists(st.integers(0, 89).map(lambda n: f"i{n}"), min_size=1, max_size=30, unique=True)
    filters = st.fixed_dictionaries({}, optional={
        "category": st.lists(st.sampled_from(["c0", "c1", "c2", "c9"]), min_size=1, max_size=3, unique=True),
        "min_price": st.integers(0, 60), "max_price": st.integers(20, 95),
        "attributes": st.dictionaries(st.sampled_from(["brand", "waterproof", "size"]), st.just(None), max_size=2),
        "item_ids": ids, "exclude_item_ids": ids})
    values = {"brand": st.lists(st.sampled_from(BRANDS), min_size=1, max_size=2, unique=True),
              "waterproof": st.lists(st.booleans(), min_size=1, max_size=1),
              "size": st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True)}

    @st.composite
    def asked(draw):
        f = draw(filters)
        if "attributes" in f:
            f["attributes"] = {name: draw(values[name]) for name in f["attributes"]}
        door = draw(st.sampled_from(["user", "session", "similar", "trending"]))
        return f, door, draw(st.integers(1, 12))

    def as_query(f: dict, k: int) -> list[tuple[str, str]]:  # the GET routes' names for the same filters
        query = [("k", str(k))] + [("category", c) for c in f.get("category", [])]
        query += [(name, str(f[name])) for name in ("min_price", "max_price") if name in f]
        query += [("attributes", f"{name}:{json.dumps(v)}" if not isinstance(v, str) else f"{name}:{v}")
                  for name, vs in f.get("attributes", {}).items() for v in vs]
        return query + [(name, i) for name in ("item_ids", "exclude_item_ids") for i in f.get(name) or []]

    @given(case=asked())
    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case):
        f, door, k = case
        own = {"user": seen, "session": {"i3", "i4"}, "similar": {"i5"}, "trending": set()}[door]
        if door in ("user", "session"):
            body = {"k": k, "filters": f, **({"user_id": "u0"} if door == "user" else {"items": sorted(own)})}
            r = client.post("/v1/recommendations", json=body, headers={"X-API-Key": READ_KEY})
        else:
            path = "/v1/items/i5/similar" if door == "similar" else "/v1/trending"
            r = client.get(path, params=as_query(f, k), headers={"X-API-Key": READ_KEY})
        assert r.status_code == 200, (door, f, r.text)
        got = [i["item_id"] for i in r.json()["items"]]
        passing = [n for n in range(90) if _passes(n, f) and f"i{n}" not in own]
        assert all(_passes(number(i), f) for i in got), (door, f, got)
        assert not own & set(got) and len(set(got)) == len(got)
        if door == "trending":  # only items with recent events trend: never more than pass, never fewer than k
            assert len(got) <= min(k, len(passing))
            return
        assert len(got) == min(k, len(passing)), (door, f, k, got, passing)
        if 20 in passing and k >= 2:
            assert got[1] == "i20", (door, f, got)

    try:
        check()
    finally:
        for rule_id in RULES:
            client.delete(f"/v1/rules/{rule_id}", headers=write)
