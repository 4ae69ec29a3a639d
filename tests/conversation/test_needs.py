"""How a conversation's needs accumulate (app.conversation.needs): refinements, replaced limits, topic
changes, feedback, and the round trip through the store's JSON."""

from app.conversation.needs import Needs, apply

CATEGORIES = ["shoes", "fishing", "books"]


def test_messages_refine_and_a_later_limit_replaces_an_earlier_one():
    needs = Needs()
    apply(needs, "running shoes under $100", [], CATEGORIES)
    apply(needs, "for trails, under 80, no leather", [], CATEGORIES)
    assert needs.wishes == ["running shoes", "trails"] and needs.query == "running shoes. trails"
    assert needs.max_price == 80 and needs.category == ["shoes"] and needs.exclude == ["leather"]
    apply(needs, "over 90", [], CATEGORIES)  # a lower limit above the upper one: the newer one wins
    assert needs.min_price == 90 and needs.max_price is None


def test_a_new_topic_drops_wishes_limits_and_likes_but_keeps_dislikes():
    needs = Needs()
    apply(needs, "running shoes under $100, no leather", [{"item_id": "a", "signal": "like"},
                                                          {"item_id": "b", "signal": "dislike"}], CATEGORIES)
    apply(needs, "actually a gift for my dad who loves fishing, no books", [], CATEGORIES)
    assert needs.wishes == ["gift for my dad who loves fishing"] and needs.category == ["fishing"]
    assert needs.max_price is None and needs.exclude == ["books"]
    assert needs.liked == [] and needs.disliked == ["b"]


def test_the_latest_signal_on_an_item_wins():
    needs = Needs()
    needs.feel([("a", "like"), ("b", "like")])
    needs.feel([("a", "dislike")])
    assert needs.liked == ["b"] and needs.disliked == ["a"]


def test_needs_survive_the_store_as_json():
    import json

    needs = Needs()
    apply(needs, "fishing rods under 50, no kits", [{"item_id": "r2", "signal": "dislike"}], CATEGORIES)
    needs.saw(["r1", "r2", "r3", "r1"])
    back = Needs.of(json.loads(json.dumps(needs.as_dict())))
    assert back == needs and back.shown == ["r1", "r2", "r3"]
    assert back.understood() == {"query": "fishing rods", "category": "fishing", "max_price": 50, "exclude": ["kits"]}
    assert Needs.of({}) == Needs() and Needs.of({"unknown": 1, "wishes": ["a"]}).wishes == ["a"]
