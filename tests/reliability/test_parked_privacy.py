"""What the state machine parks in the record dead-letter queue (kept 14 days in the region)
when the monitor keeps failing carries the request's summary and its prompt's hash, never the
prompt, whatever the request's privacy; and it is still enough to redrive the record."""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from mecroute.domain.errors import TierUnavailable
from mecroute.domain.tasks import UnrecordedTask
from mecroute.local.runtime import OfflineRuntime

from .faults import Handler, dead_letter_queue, decision_items, drain, handler_wrapped
from .test_cloud_and_store_faults import redrive

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def crashing_on(action: str) -> Callable[[Handler], Handler]:
    """The monitor Lambda crashing on every task of one kind (retried, then given up on)."""

    def wrap(real: Handler) -> Handler:
        def monitor(event: dict[str, Any], context: Any) -> Any:
            if event.get("action") == action:
                raise MemoryError("Runtime exited with error: signal: killed")
            return real(event, context)

        return monitor

    return wrap


def every_attempt_failing(real: Handler) -> Handler:
    def execute(event: dict[str, Any], context: Any) -> Any:
        raise TierUnavailable("the tier went away")

    return execute


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value).union(*(keys_of(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_of(v) for v in value))
    return set()


# (dead-letter state, the monitor task that crashes, extra request fields, a fault on execute)
PATHS: dict[str, tuple[str, dict[str, Any], Callable[[Handler], Handler] | None]] = {
    "DeadLetterOutcome": ("succeeded", {}, None),
    "DeadLetterNoRoute": ("failed", {"sla": {"min_accuracy": 0.99}}, None),
    "DeadLetterFailure": ("failed", {}, every_attempt_failing),
}


@pytest.mark.parametrize("privacy", ["strict", "regional"])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_parked_task_carries_the_prompts_hash_never_the_prompt(
    runtime: OfflineRuntime, path: str, privacy: str
) -> None:
    # Given: a request whose monitor task keeps failing on this path
    action, fields, execute_fault = PATHS[path]
    prompt = f"My account number is 4417 and I feel unwell: what should I do? ({uuid.uuid4()})"
    request = {"prompt": prompt, "privacy": privacy, "user_id": "alice", **fields}
    with handler_wrapped(runtime, "monitor", crashing_on(action)):
        if execute_fault is None:
            run = runtime.run(request)
        else:
            with handler_wrapped(runtime, "execute", execute_fault):
                run = runtime.run(request)

    # Then: it failed by name on that path, and the queue holds the task
    assert (run.status, run.error) == ("FAILED", "RecordNotStored")
    assert path in run.states
    (message,) = drain(dead_letter_queue(runtime))
    assert prompt not in json.dumps(message)
    assert "prompt" not in keys_of(message)  # a success keeps its answer, as its record does
    parked = UnrecordedTask.model_validate(message)
    summary = parked.unrecorded_task.request  # type: ignore[union-attr]
    assert summary.prompt_sha256 == hashlib.sha256(prompt.encode()).hexdigest()
    assert (summary.request_id, summary.user_id, summary.privacy) == (
        run.request_id, "alice", privacy,
    )  # fmt: skip
    assert parked.failed == "MemoryError"
    assert parked.parked_at is not None

    # And: the summary is enough to record the request once it is redriven
    dead_letter_queue(runtime).send(message)
    assert redrive(runtime) == (1, 0)
    (item,) = decision_items(runtime, run.request_id)
    assert item["status"]["S"] == ("succeeded" if action == "succeeded" else "failed")
    record = zlib.decompress(item["record"]["B"]).decode()  # the adapter stores it compressed
    assert prompt not in json.dumps({**item, "record": record})
