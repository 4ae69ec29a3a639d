"""Bad input never gives a 5xx on the recommendation routes with a trained model behind them either."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.api.test_fuzz import OPERATIONS
from tests.conftest import READ_KEY
from tests.recommender.test_routes import client, seed, train  # noqa: F401  (fixture)
from tests.utils import send_case

EXAMPLES = int(os.environ.get("SEMREC_FUZZ_EXAMPLES", "40"))
SERVING = [op for op in OPERATIONS if "recommendation" in op.path or op.path.endswith(("/rank", "/similar"))]


def test_the_serving_routes_are_all_here():
    assert len(SERVING) == 4


@pytest.fixture
def served(client, packaged_encoder):  # noqa: F811
    seed(client)
    train(client, packaged_encoder)
    client.app.state.recommender.encoder = packaged_encoder
    return client


@pytest.mark.parametrize("operation", SERVING, ids=lambda op: op.label)
def test_no_server_error_with_a_model(served, operation):
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    known = {"item_id": "i3"} if "{item_id}" in operation.path else {"user_id": "u0"} if "{user_id}" in operation.path \
        else None
    if known:  # also ask about ids the model knows, so generated queries and bodies reach the real scoring
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
    strategy = st.one_of(*strategies)
    codes: list[int] = []

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def send(case):
        codes.append(send_case(served, case, READ_KEY).status_code)

    send()
    assert 200 in codes
