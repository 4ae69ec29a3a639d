"""How a conversation's needs accumulate (app.conversation.needs): refinements, replaced limits, topic
changes, feedback, and the fold from stored turns."""

from app.conversation.needs import Needs, apply, fold

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


def test_fold_replays_stored_turns():
    turns = [
        {"role": "shopper", "text": "fishing rods under 50", "feedback": None},
        {"role": "assistant", "text": "...", "items": [{"item_id": "r1"}, {"item_id": "r2"}]},
        {"role": "shopper", "text": None, "feedback": [{"item_id": "r2", "signal": "dislike"}]},
        {"role": "assistant", "text": "...", "items": [{"item_id": "r1"}, {"item_id": "r3"}]},
    ]
    needs = fold(turns, CATEGORIES)
    assert needs.understood() == {"query": "fishing rods", "category": "fishing", "max_price": 50, "exclude": []}
    assert needs.shown == ["r1", "r2", "r3"] and needs.disliked == ["r2"]
