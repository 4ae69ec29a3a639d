"""The generator LM (app.generator) on a tiny GPT-2 the tests build, and the check that keeps its replies to
the facts (app.conversation.phrasing)."""

import pytest

from app.conversation.phrasing import acceptable, rewrite
from app.generator import Generator

REPLY = "Here are 10 items for 'running shoes' in shoes, priced up to 100, without leather."
NOTHING = "Nothing available fits 'kitchen knives', priced 20 to 50. A wider price range may help."


def test_a_gpt2_folder_generates_the_same_words_twice(tiny_gpt2):
    g = Generator(tiny_gpt2, device="cpu")
    a = g.chat("trail running shoes with a grippy", max_new_tokens=8)
    assert isinstance(a, str) and a == g.chat("trail running shoes with a grippy", max_new_tokens=8)


@pytest.mark.parametrize(("text", "reply", "ok"), [
    ("Here are 10 picks for 'running shoes' in shoes, up to 100 and without leather!", REPLY, True),
    ("Here are 10 items for 'running shoes' priced up to 100, with 100% customer satisfaction.", REPLY, False),
    ("Here are 12 items for 'running shoes' under 100, without leather.", REPLY, False),  # a number of its own
    ("Here are 'running shoes' in shoes, up to 100, without leather.", REPLY, False),  # the count is gone
    ("Here are 10 items for 'running shoes' in shoes, up to 100.", REPLY, False),  # the exclusion is gone
    ("Here are 10 shoes for you, up to 100, without leather.", REPLY, False),  # the wish is gone
    ("Rewrite this message: 'running shoes', 10, up to 100, without leather.", REPLY, False),  # the prompt
    ("No, no, no, no, no, no, no, no, no, no 'running shoes' 10 100 without leather", REPLY, False),  # a loop
    ("Here are 10 items for 'running shoes'.\nAlso, we have socks.", REPLY, False),
    ("", REPLY, False),
    ("Sorry, nothing fits 'kitchen knives' priced 20 to 50.", NOTHING, True),
    ("The kitchen knives are priced 20 to 50, with a wider price range or fewer exclusions.", NOTHING, False),
])
def test_the_check_refuses_what_the_facts_do_not_hold(text, reply, ok):
    assert acceptable(text, reply) is ok


def test_a_refused_rewrite_falls_back_to_the_rule_made_sentence(tiny_gpt2):
    sent, by_lm = rewrite(Generator(tiny_gpt2, device="cpu"), REPLY)  # a random 2-layer model: gibberish
    assert (sent, by_lm) == (REPLY, False)
