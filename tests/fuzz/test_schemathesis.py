"""Property-based fuzzing of every operation of the published OpenAPI document, against a live
server: generated requests (valid and invalid) never get a 5xx, and every response matches
the schema the document declares for it.

The default run is short and seeded, so it is repeatable; `make fuzz` runs a longer pass
(FUZZ_EXAMPLES examples per operation, FUZZ_SEED to explore another corner).
"""

import json
import os

import pytest
import schemathesis
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.settings import spectacular_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import ALL_WRITE_SCOPES, make_api_caller

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
STATEFUL_STEPS = int(os.environ.get("FUZZ_STEPS", "6"))
COVERAGE = os.environ.get("FUZZ_COVERAGE", "") == "1"
CHECKS = [not_a_server_error, response_schema_conformance]

pytestmark = pytest.mark.django_db(transaction=True)


def load_schema() -> schemathesis.BaseSchema:
    """The document the server publishes at /v2/schema/, built as its view builds it."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    built = generator.get_schema(request=None, public=spectacular_settings.SERVE_PUBLIC)
    document = json.loads(OpenApiJsonRenderer().render(built))
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            # The coverage phase sends every boundary value of every parameter: thorough, and
            # too slow for each test run; `make fuzz` turns it on.
            "phases": {"coverage": {"enabled": COVERAGE}},
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


# The document describes an NDJSON body as a string (its lines): send the generated text as is.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

schema = load_schema()


@pytest.fixture
def fuzzer(live_server, settings):
    """Base URL and headers of a client allowed every scope."""
    # Fuzzing sends many requests with one token: the rate limit is not under test here.
    settings.THROTTLE_RATE = "1000000/min"
    caller = make_api_caller(ALL_WRITE_SCOPES, name="fuzzer")
    return live_server.url, {"Authorization": f"Bearer {caller.token}"}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_match_the_schema(case, fuzzer):
    base_url, headers = fuzzer
    case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)


def test_linked_operations_in_sequence(fuzzer):
    """Stateful phase: sequences that follow the document's links (create, then read, change
    and delete what was created) with the same checks at every step."""
    base_url, headers = fuzzer

    class LinkedCalls(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": base_url, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    LinkedCalls.run(
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
