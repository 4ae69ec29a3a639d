"""The phrase rules of app.conversation.understand: each limit, category and exclusion phrase of API.md,
what is left as the wish, and what must not be taken for a limit."""

import pytest

from app.conversation.understand import read, singular, word_forms

CATEGORIES = ["shoes", "Gift Cards", "books", "Comedy", "Romance", "kitchen", "Toy"]


@pytest.mark.parametrize(("text", "low", "high"), [
    ("running shoes under $100", None, 100), ("under 100", None, 100), ("below 50 dollars", None, 50),
    ("less than 30", None, 30), ("at most 80", None, 80), ("up to 25 usd", None, 25),
    ("no more than 50 bucks", None, 50), ("cheaper than €40", None, 40), ("40 euros max", None, 40),
    ("$1,250 or less", None, 1250), ("under 19.99", None, 19.99), ("over 20", 20, None),
    ("above $35", 35, None), ("more than 10 dollars", 10, None), ("at least 15", 15, None),
    ("50 dollars and up", 50, None), ("between 20 and 50", 20, 50), ("$20-$50", 20, 50),
    ("$20 - 50", 20, 50), ("20 to 50 usd", 20, 50), ("between 50 and 20", 20, 50), ("€10–€30", 10, 30),
    ("over 20 and under 60", 20, 60),
])
def test_price_phrases(text, low, high):
    said = read(text, CATEGORIES)
    assert (said.min_price, said.max_price) == (low, high)
    assert not any(ch.isdigit() for ch in said.wish), said.wish  # the limit is not left in the wish


@pytest.mark.parametrize("text", ["a comedy from the 1990s", "a 2-3 player game", "movies from 1990 to 2000",
                                  "size 10 shoes", "top 10 mystery novels"])
def test_numbers_that_are_not_prices(text):
    said = read(text, CATEGORIES)
    assert said.min_price is None and said.max_price is None


@pytest.mark.parametrize(("text", "words"), [
    ("no books", ["books"]), ("not leather", ["leather"]), ("without sugar", ["sugar"]),
    ("anything except shoes", ["shoes"]), ("no books, toys or games", ["books", "toys", "games"]),
    ("I don't want horror", ["horror"]), ("nothing too expensive", ["expensive"]),
    ("no sugar and I want tea", ["sugar"]),
])
def test_exclusion_phrases(text, words):
    said = read(text, CATEGORIES)
    assert said.exclude == words
    assert not set(words) & set(said.wish.split())


def test_no_more_than_is_a_price_not_an_exclusion():
    said = read("no more than 30 for a gift", CATEGORIES)
    assert said.max_price == 30 and said.exclude == []


@pytest.mark.parametrize(("text", "named"), [
    ("running shoes", ["shoes"]), ("a shoe for running", ["shoes"]), ("a gift card for mum", ["Gift Cards"]),
    ("GIFT CARDS please", ["Gift Cards"]), ("a comedy or a romance", ["Comedy", "Romance"]),
    ("toys for a toddler", ["Toy"]), ("a book about boats", ["books"]), ("a kitchen knife", ["kitchen"]),
    ("a cardigan", []), ("bookshelf", []),
])
def test_categories_singular_and_plural(text, named):
    assert read(text, CATEGORIES).category == named


def test_an_excluded_category_is_not_a_wanted_one():
    said = read("fishing gear, no books", CATEGORIES)
    assert said.category == [] and said.exclude == ["books"]


@pytest.mark.parametrize("text", ["actually a gift for my dad", "something else: a kettle", "a lamp instead",
                                  "Start over, a tent", "forget that, socks"])
def test_topic_change_words(text):
    said = read(text, CATEGORIES)
    assert said.new_topic
    for marker in ("actually", "instead", "something else", "start over", "forget that"):
        assert marker not in said.wish


def test_the_wish_keeps_the_words_and_drops_the_glue():
    said = read("I'd like a comedy and romance movie from the 1990s", CATEGORIES)
    assert said.wish == "comedy and romance movie from the 1990s" and not said.new_topic
    assert read("Please show me some trail running shoes under $90!", CATEGORIES).wish == "trail running shoes"


@pytest.mark.parametrize(("word", "base"), [("books", "book"), ("boxes", "box"), ("batteries", "battery"),
                                            ("glass", "glass"), ("shoes", "shoe"), ("dress", "dress")])
def test_singular(word, base):
    assert singular(word) == base
    assert {word, base} <= word_forms(word)
