"""A request repeated with the same idempotency key gets the same result without inference
running twice: one after the other, and all at once (the duplicates in flight wait, through
the state machine's Retry, for the first to finish). The key belongs to its user."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mecroute.domain.request import MAX_SLA_MS
from mecroute.local.api import response_for
from mecroute.local.runtime import OfflineRuntime, Run

from .faults import decision_items, inferences_counted

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def request(key: str | None, user: str = "alice", prompt: str = "Summarise my notes") -> dict:
    # Strict privacy: never answered from the response cache, so only idempotency can spare
    # the second inference.
    body: dict[str, Any] = {"prompt": prompt, "privacy": "strict", "user_id": user}
    if key is not None:
        body["idempotency_key"] = key
    return body


def answered(run: Run) -> dict[str, Any]:
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output is not None
    return run.output


def test_without_a_key_a_repeat_runs_inference_again(runtime: OfflineRuntime) -> None:
    """The control for the tests below: the counter sees every inference."""
    with inferences_counted(runtime) as inferences:
        first = answered(runtime.run(request(None)))
        second = answered(runtime.run(request(None)))

    assert inferences.total == 2
    assert first["result"]["request_id"] != second["result"]["request_id"]


def test_a_repeated_key_returns_the_same_result_without_a_second_inference(
    runtime: OfflineRuntime,
) -> None:
    key = f"order-{uuid.uuid4()}"
    with inferences_counted(runtime) as inferences:
        first = answered(runtime.run(request(key)))
        second = answered(runtime.run(request(key)))

    assert inferences.total == 1
    assert second["result"] == first["result"]  # the original request id included
    assert second["request_id"] != first["request_id"]
    # Each request keeps its own decision record.
    for output in (first, second):
        assert len(decision_items(runtime, output["request_id"])) == 1


def test_concurrent_duplicates_wait_for_the_first_and_share_its_result(
    runtime: OfflineRuntime,
) -> None:
    key = f"order-{uuid.uuid4()}"
    with inferences_counted(runtime) as inferences, ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: runtime.run(request(key)), range(4)))

    outputs = [answered(run) for run in runs]
    assert inferences.total == 1
    assert all(output["result"] == outputs[0]["result"] for output in outputs)
    assert len({output["request_id"] for output in outputs}) == 4


@pytest.mark.parametrize("trial", range(3))
def test_twenty_concurrent_repeats_of_one_key_run_inference_once(
    runtime: OfflineRuntime, trial: int
) -> None:
    """Each repeat's conditional write of the in-progress record races the others; exactly one
    may win (offline this needs moto's writes to be atomic, as DynamoDB's are)."""
    key = f"burst-{trial}-{uuid.uuid4()}"
    # Twenty pipelines at once on one offline process take seconds each: the longest SLA.
    body = {**request(key), "sla": {"max_latency_ms": MAX_SLA_MS}}
    with inferences_counted(runtime) as inferences, ThreadPoolExecutor(20) as pool:
        runs = list(pool.map(lambda _: runtime.run(body), range(20)))

    outputs = [answered(run) for run in runs]
    assert inferences.total == 1
    assert {output["result"]["request_id"] for output in outputs} == {
        outputs[0]["result"]["request_id"]
    }


def test_the_key_belongs_to_its_user(runtime: OfflineRuntime) -> None:
    key = f"shared-{uuid.uuid4()}"
    with inferences_counted(runtime) as inferences:
        alice = answered(runtime.run(request(key, user="alice")))
        bob = answered(runtime.run(request(key, user="bob")))

    assert inferences.total == 2
    assert alice["result"]["request_id"] != bob["result"]["request_id"]


def test_a_key_reused_for_another_prompt_is_refused_without_inference(
    runtime: OfflineRuntime,
) -> None:
    key = f"order-{uuid.uuid4()}"
    answered(runtime.run(request(key, prompt="Summarise my notes")))

    with inferences_counted(runtime) as inferences:
        reused = runtime.run(request(key, prompt="Delete my notes"))

    assert inferences.total == 0
    assert (reused.status, reused.error) == ("FAILED", "IdempotencyKeyReused")
    status, body = response_for(reused)
    assert (status, body["error"]) == (422, "IdempotencyKeyReused")
    assert reused.record is not None
    assert reused.record["error"] == "IdempotencyKeyReused"
