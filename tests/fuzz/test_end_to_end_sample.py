"""A sample of the fuzz cases end to end: schemathesis calls the local API over real HTTP on
loopback, with the whole offline pipeline behind it, and checks each answer against the
published document. Accepted requests leave a decision record; refused ones start nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import ValidationError
from schemathesis.core import NOT_SET
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from mecroute.adapters.aws import client
from mecroute.domain.openapi import DOCUMENT
from mecroute.domain.request import InferenceRequest
from mecroute.local.api import serve
from mecroute.local.runtime import OfflineRuntime

from .conftest import GENERATED

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
INFERENCE = SCHEMA["/v1/inference"]["POST"]
SAMPLE = 12
# A small sample through the whole local stack: slow examples, no stored database.
sampled = settings(
    max_examples=SAMPLE, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def local_api() -> Iterator[tuple[str, OfflineRuntime]]:
    with OfflineRuntime(time_scale=0.1) as runtime:
        server = serve(runtime, 0).start()
        try:
            yield server.url, runtime
        finally:
            server.stop()


def conforms(body: Any) -> bool:
    if body is NOT_SET:
        return False
    try:
        if isinstance(body, bytes):
            InferenceRequest.model_validate_json(body)
        else:
            InferenceRequest.model_validate(body)
    except ValidationError:
        return False
    return True


def executions(runtime: OfflineRuntime) -> int:
    listed = client("stepfunctions").list_executions(stateMachineArn=runtime.state_machine_arn)
    return len(listed["executions"])


def test_valid_requests_end_to_end_answer_as_documented_and_are_recorded(
    local_api: tuple[str, OfflineRuntime],
) -> None:
    url, runtime = local_api

    @sampled
    @given(INFERENCE.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def case(generated: Any) -> None:
        GENERATED["end-to-end"] += 1

        response = generated.call(base_url=url, timeout=120)

        assert response.status_code < 500, response.text
        # Status documented for this operation, body conforming to its schema, JSON media. A
        # valid request may still be one no tier can serve: 422 NoFeasibleRoute, documented.
        generated.validate_response(response, excluded_checks=[positive_data_acceptance])
        request_id = response.json()["request_id"]
        if response.status_code != 400:
            recorded = runtime.decision_record(request_id)
            assert recorded is not None, f"{request_id} left no decision record"

    case()


def test_invalid_requests_end_to_end_start_nothing(
    local_api: tuple[str, OfflineRuntime],
) -> None:
    url, runtime = local_api

    @sampled
    @given(INFERENCE.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def case(generated: Any) -> None:
        GENERATED["end-to-end"] += 1
        before = executions(runtime)

        response = generated.call(base_url=url, timeout=120)

        assert response.status_code < 500, response.text
        # Documented status and body. (Not schemathesis' negative_data_rejection: its negative
        # cases include a missing SigV4 header, which the loopback-only local API ignores.)
        generated.validate_response(response, excluded_checks=[negative_data_rejection])
        if not conforms(generated.body):
            assert response.status_code in (400, 415), response.text
        if response.status_code in (400, 415):
            assert executions(runtime) == before
            assert response.json()["error"] in {"InvalidRequest", "RequestRejected"}

    case()
