"""No valid request overflows a state: Step Functions refuses any state input or output over
256 KB (`States.DataLimitExceeded`, which `States.ALL` does not catch)."""

from __future__ import annotations

import json

from mecroute.adapters.aws import client
from mecroute.domain.request import MAX_PROMPT_BYTES
from mecroute.local.runtime import OfflineRuntime

STATE_LIMIT_BYTES = 256 * 1024


def test_the_largest_valid_prompt_keeps_every_state_under_the_limit(
    runtime: OfflineRuntime,
) -> None:
    # Given the largest prompt the API accepts, in its widest form: every character escaped
    prompt = "\u00e9" * (MAX_PROMPT_BYTES // 6)
    body = {"prompt": prompt, "privacy": "strict", "max_tokens": 1024}

    run = runtime.run(body)

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    history = client("stepfunctions").get_execution_history(executionArn=run.execution_arn)
    payloads = [
        details.get("input") or details.get("output") or ""
        for event in history["events"]
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
    ]
    # Measured as the Lambda runtime writes JSON: non-ASCII characters escaped.
    sizes = [len(json.dumps(json.loads(payload))) for payload in payloads if payload]
    assert max(sizes) < STATE_LIMIT_BYTES
    assert max(sizes) > 2 * MAX_PROMPT_BYTES  # the prompt did travel, twice, in some state
