"""No valid request overflows a state: Step Functions refuses any state input or output over
256 KB (`States.DataLimitExceeded`, which `States.ALL` does not catch)."""

from __future__ import annotations

import json

from mecroute.adapters.aws import client
from mecroute.domain.request import MAX_PROMPT_BYTES, MAX_PROMPT_CHARS
from mecroute.local.runtime import OfflineRuntime, Run

STATE_LIMIT_BYTES = 256 * 1024


def state_sizes(run: Run) -> list[int]:
    """Every state input and output of the run, measured as the Lambda runtime writes JSON
    (non-ASCII characters escaped)."""
    history = client("stepfunctions").get_execution_history(executionArn=run.execution_arn)
    payloads = [
        details.get("input") or details.get("output") or ""
        for event in history["events"]
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
    ]
    return [len(json.dumps(json.loads(payload))) for payload in payloads if payload]


def test_the_largest_valid_prompt_keeps_every_state_under_the_limit(
    runtime: OfflineRuntime,
) -> None:
    # Given the largest prompt the API accepts, in its widest form: every character escaped
    prompt = "\u00e9" * (MAX_PROMPT_BYTES // 6)
    body = {"prompt": prompt, "privacy": "strict", "max_tokens": 1024}

    run = runtime.run(body)

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    sizes = state_sizes(run)
    assert max(sizes) < STATE_LIMIT_BYTES
    assert max(sizes) > 2 * MAX_PROMPT_BYTES  # the prompt did travel, twice, in some state


def test_a_long_answer_travels_once_and_fits_also_from_the_cache(runtime: OfflineRuntime) -> None:
    # Given a prompt at the character bound whose simulated answer echoes it (about 96 KB):
    # answered first by a model, then from the response cache (the plan carries the cached
    # answer too). ComposeAnswer's answer replaces the execution result it contains.
    body = {"prompt": "a" * MAX_PROMPT_CHARS}

    runs = [runtime.run(body), runtime.run(body)]

    for run in runs:
        assert run.status == "SUCCEEDED", (run.error, run.cause)
        assert run.output is not None
        assert len(run.output["result"]["output"]) > MAX_PROMPT_BYTES
        assert max(state_sizes(run)) < STATE_LIMIT_BYTES
    assert runs[1].output is not None
    assert runs[1].output["result"]["from_cache"] is True
