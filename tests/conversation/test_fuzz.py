"""Bad input never gives a 5xx on the conversation routes, with a trained model and a live conversation behind
them: schemathesis bodies reach the real phrase rules, feedback checks and ranking, on both stores; a stated
price limit or exclusion is never violated in any answer it gets."""

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api.test_fuzz import OPERATIONS
from tests.conftest import READ_KEY
from tests.conversation.test_routes import ITEMS, start, trained  # noqa: F401  (fixture)
from tests.utils import send_case

EXAMPLES = int(os.environ.get("SEMREC_FUZZ_EXAMPLES", "40"))
CONVERSING = [op for op in OPERATIONS if op.path.startswith("/v1/conversations")]


def test_the_conversation_routes_are_all_here():
    assert len(CONVERSING) == 3


def _limits_hold(answer: dict) -> None:
    u = answer["understood"]
    for item in answer["items"]:
        held = ITEMS[item["item_id"]]
        assert u.get("max_price") is None or held["price"] <= u["max_price"], (u, held)
        assert u.get("min_price") is None or held["price"] >= u["min_price"], (u, held)
        for word in u["exclude"]:
            assert not re.search(rf"\b{re.escape(word)}\b", held["title"] + " " + held["category"], re.I), (u, held)


@pytest.mark.parametrize("operation", CONVERSING, ids=lambda op: op.label)
def test_no_server_error_in_a_live_conversation(trained, operation):  # noqa: F811
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    if "{conversation_id}" in operation.path:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE,
                                                path_parameters={"conversation_id": start(trained)}))
    codes: list[int] = []

    @given(case=st.one_of(*strategies))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def send(case):
        response = send_case(trained, case, READ_KEY)
        codes.append(response.status_code)
        if response.status_code == 200 and "/messages" in operation.path:
            _limits_hold(response.json())

    send()
    assert any(code not in (401, 422) for code in codes), codes


WORDS = st.sampled_from(["shoes", "under", "$30", "no", "not", "leather", "between", "20", "and", "50", "dollars",
                         "actually", "fishing", "books", "over", "€", "gift", "for", "dad", "without", "kits",
                         "instead", "more", "than", "at", "most", "-", ",", "running", "kitchen", "0", "1e9"])
MESSAGES = st.fixed_dictionaries({"k": st.integers(1, 100)}, optional={
    "text": st.one_of(st.lists(WORDS, min_size=1, max_size=12).map(" ".join), st.text(min_size=1, max_size=60)),
    "feedback": st.lists(st.fixed_dictionaries({"item_id": st.sampled_from(sorted(ITEMS)),
                                                "signal": st.sampled_from(["like", "dislike"])}), max_size=4),
})


def test_generated_messages_in_one_conversation(trained):  # noqa: F811
    """Shopper-like word salads and any text, with feedback on real items, all in one conversation: every
    answer a 200 or a 422, every stated limit held, disliked items never shown again."""
    cid = start(trained)
    disliked: set[str] = set()
    codes: list[int] = []

    @given(body=MESSAGES)
    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def send(body):
        r = trained.post(f"/v1/conversations/{cid}/messages", json=body)
        assert r.status_code in (200, 422), (body, r.text)
        codes.append(r.status_code)
        if r.status_code == 200:
            for f in body.get("feedback", ()):
                (disliked.add if f["signal"] == "dislike" else disliked.discard)(f["item_id"])
            answer = r.json()
            _limits_hold(answer)
            assert not disliked & {i["item_id"] for i in answer["items"]}, (body, answer)

    send()
    assert codes.count(200) > len(codes) // 2


@pytest.mark.parametrize("text", ["shoes under $30, no leather", "between 20 and 40 dollars, not books",
                                  "fishing over 50", "$10-$35 without kits", "no shoes, no books, under 60"])
def test_stated_limits_are_never_violated(trained, text):  # noqa: F811
    cid = start(trained)
    for follow in (text, "show me more", "show me more"):
        r = trained.post(f"/v1/conversations/{cid}/messages", json={"text": follow, "k": 6})
        assert r.status_code == 200
        _limits_hold(r.json())
