"""P5's simulated shoppers (app.evaluation.shoppers): their words never hold the target's title, their
feedback follows the protocol's rule, and a small run through a spawned service reports every baseline."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

from app.evaluation import datasets, shoppers
from app.evaluation.protocols import Indexed, p2_temporal

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "ml-100k").is_dir(),
                                reason="shared evaluation data not beside the checkout")


@needs_data
def test_movie_shoppers_say_genres_and_decade_never_the_title():
    ds = datasets.load("ml-100k", DATA)
    ix = Indexed(ds)
    drawn = shoppers.draw(ds, ix, p2_temporal(ix))
    assert len(drawn) == shoppers.N_SHOPPERS and len({s.user_id for s in drawn}) == shoppers.N_SHOPPERS
    assert drawn == shoppers.draw(ds, ix, p2_temporal(ix))  # the fixed seed
    for s in drawn:
        record = ds.item_records[s.target]
        assert s.opening.startswith("I'd like") and s.kinds
        assert all(g.lower() in s.opening for g in s.kinds)
        assert record["title"].split(" (")[0].lower() not in s.opening.lower()
    toy_story = shoppers.openings(ds, ["1"])["1"]  # Animation, Children's, Comedy; 1995
    assert toy_story == "I'd like an animation, children's and comedy movie from the 1990s"


def test_amazon_shoppers_say_category_and_description_words_not_in_the_title():
    ds = datasets.Dataset("amazon-gift-cards", *([None] * 4), item_text={}, item_records={
        "a": {"title": "Birthday card", "description": "A birthday card with balloons, balloons and confetti."},
        "b": {"title": "Thank you card", "description": "A plain card to say thanks to a teacher, any teacher."},
    })
    words = shoppers.openings(ds, ["a", "b"])
    assert words["a"].startswith("I'd like gift cards: balloons") and "birthday" not in words["a"]
    assert "teacher" in words["b"] and "card" not in words["b"].split(": ")[1]


def test_feedback_likes_what_shares_a_kind_and_dislikes_the_rest():
    s = shoppers.Shopper("u", "t", "I'd like a comedy", frozenset({"Comedy"}))
    kind = {"a": frozenset({"Drama"}), "b": frozenset({"Comedy"}), "c": frozenset({"Comedy", "War"}),
            "d": frozenset({"Comedy"}), "e": frozenset(), "f": frozenset({"War"}), "g": frozenset({"Horror"})}
    fb = shoppers._feedback(s, list("abcdefg"), kind)
    assert fb == [{"item_id": "b", "signal": "like"}, {"item_id": "c", "signal": "like"},
                  {"item_id": "a", "signal": "dislike"}, {"item_id": "e", "signal": "dislike"},
                  {"item_id": "f", "signal": "dislike"}]


@needs_data
def test_p5_through_a_spawned_service(tmp_path):
    out = tmp_path / "p5"
    run = subprocess.run([sys.executable, "-m", "scripts.evaluate", "--smoke", "--datasets", "ml-100k", "--protocols",
                          "P5", "--data-root", str(DATA), "--out", str(out)], cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    import json

    p5 = json.loads(out.with_suffix(".json").read_text())["results"]["ml-100k"]["P5"]
    names = {"semrec conversation", "paging plain recommendations", "one-shot query (its first 10)",
             "query, paged (10 more a turn)"}
    assert names <= set(p5)
    for name in names:
        curve = [p5[name][f"success@{t}"] for t in range(1, 6)]
        assert all(0 <= v <= 1 and math.isfinite(v) for v in curve) and curve == sorted(curve)
    assert p5["one-shot query (its first 10)"]["success@5"] == p5["one-shot query (its first 10)"]["success@1"]
    assert set(p5["_service"]["statuses"]) <= {"200", "201"}
    assert p5["semrec conversation"]["success@5"] > 0
    assert "| semrec conversation |" in out.with_suffix(".md").read_text()
