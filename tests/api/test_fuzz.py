"""Bad input never gives a 5xx: schemathesis generates valid and invalid requests from our own OpenAPI
schema for every operation, sent through the real app on SQLite and PostgreSQL."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from app.core.config import Settings
from app.main import create_app
from tests.conftest import WRITE_KEY
from tests.utils import send_case

EXAMPLES = int(os.environ.get("SEMREC_FUZZ_EXAMPLES", "40"))  # per operation, per mode, per store
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def test_every_route_is_fuzzed():
    assert len(OPERATIONS) >= 13


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_server_error(client, operation):
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    seen: list[int] = []

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def send(case):
        seen.append(send_case(client, case, WRITE_KEY).status_code)

    send()
    assert any(code not in (401, 422) for code in seen), "every request stopped at validation"
