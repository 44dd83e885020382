"""The API's mapping templates, rendered offline with velocityjs: the deployed API must answer
exactly what the local API answers (mecroute.local.api.response_for) for the same execution."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra import api_templates
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR
from mecroute.local.api import response_for
from mecroute.local.runtime import Run

ROOT = Path(__file__).resolve().parents[2]
RENDERER = Path(__file__).with_name("render_vtl.cjs")
STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:Pipeline"
REQUEST_ID = "c0ffee00-1234-4abc-8def-0123456789ab"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "velocityjs").is_dir(),
    reason="needs node and `npm ci` (velocityjs renders the templates)",
)


def render(template: str, bodies: list[str]) -> list[dict[str, Any]]:
    cases = [{"template": template, "body": body, "requestId": REQUEST_ID} for body in bodies]
    completed = subprocess.run(
        ["node", str(RENDERER)], input=json.dumps(cases), capture_output=True, text=True,
        check=False, cwd=ROOT,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    rendered: list[dict[str, Any]] = json.loads(completed.stdout)
    return rendered


def lambda_cause(error_type: str, message: str) -> str:
    """How Step Functions reports a Lambda function's exception as the failure cause."""
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "5b3f0c1e-aaaa-bbbb-cccc-000000000000",
            "stackTrace": ['  File "/var/task/handler.py", line 9, in handler\n    raise'],
        }
    )


INVALID = json.dumps(
    {"message": "invalid request", "problems": [{"field": "sla.max_latency_ms",
                                                  "problem": "Input should be >= 10"}]}
)  # fmt: skip
EXECUTIONS = {
    "succeeded": ("SUCCEEDED", None, None, {"request_id": REQUEST_ID, "status": "succeeded",
                                             "result": {"output": "Paris \u00e9 \"quoted\" 'x'"}}),
    "invalid request": ("FAILED", "InvalidRequest", lambda_cause("InvalidRequest", INVALID), None),
    "no feasible route": ("FAILED", "NoFeasibleRoute",
                          'privacy "strict": no device/MEC candidate meets 50 ms', None),
    "no tier available": ("FAILED", "NoTierAvailable",
                          "every candidate failed: mec/mec-metro-1/edge-large-v1: TierUnavailable",
                          None),
    "timeout, no cause": ("FAILED", "States.Timeout", None, None),
    "timed out, no error": ("TIMED_OUT", None, None, None),
    "crash with text": ("FAILED", "Lambda.Unknown",
                        lambda_cause("KeyError", "boom: 'model' \\ \"x\" / \u2192"), None),
    "cause is a JSON object": ("FAILED", "Custom", json.dumps({"detail": "d", "n": 1}), None),
    "empty JSON cause": ("FAILED", "Custom", "{}", None),
}  # fmt: skip


def start_sync_execution_answer(status: str, error: str | None, cause: str | None,
                                output: Any) -> dict[str, Any]:  # fmt: skip
    answer: dict[str, Any] = {
        "executionArn": f"{STATE_MACHINE_ARN.replace('stateMachine', 'express')}:{REQUEST_ID}",
        "stateMachineArn": STATE_MACHINE_ARN,
        "name": REQUEST_ID,
        "status": status,
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 300},
    }
    if error is not None:
        answer["error"] = error
    if cause is not None:
        answer["cause"] = cause
    if output is not None:
        answer["output"] = json.dumps(output)
    return answer


@pytest.fixture(scope="module")
def rendered_responses() -> dict[str, dict[str, Any]]:
    names = list(EXECUTIONS)
    bodies = [json.dumps(start_sync_execution_answer(*EXECUTIONS[name])) for name in names]
    return dict(zip(names, render(api_templates.start_execution_response(), bodies), strict=True))


@pytest.mark.parametrize("name", list(EXECUTIONS))
def test_response_template_answers_what_the_local_api_answers(
    name: str, rendered_responses: dict[str, dict[str, Any]]
):
    status, error, cause, output = EXECUTIONS[name]
    expected_status, expected_body = response_for(
        Run(execution_arn="", request_id=REQUEST_ID, status=status, output=output, error=error,
            cause=cause, states=[], duration_ms=0.0)
    )  # fmt: skip
    rendered = rendered_responses[name]
    # No override means API Gateway keeps the integration response's 200.
    assert (rendered["status"] or 200) == expected_status
    assert json.loads(rendered["output"]) == expected_body


def test_every_named_error_has_its_status_in_the_template():
    template = api_templates.start_execution_response()
    for error, status in HTTP_STATUS_BY_ERROR.items():
        assert (
            f'($error == "{error}")\n#set($context.responseOverride.status = {status})' in template
        )


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "What is the capital of France?"},
        {
            "prompt": 'it\'s "quoted", back\\slash, tab\t, new\nline, caf\u00e9 \u2603 \U0001f680',
            "sla": {"max_latency_ms": 200},
            "privacy": "strict",
        },
        {"prompt": "</script> ${not.vtl} #set($x = 1) @@"},
    ],
    ids=["plain", "escapes", "template-like text"],
)
def test_request_template_builds_the_pipeline_input(body: dict[str, Any]):
    (rendered,) = render(
        api_templates.start_execution_request(STATE_MACHINE_ARN), [json.dumps(body)]
    )
    start_sync_execution = json.loads(rendered["output"])
    assert start_sync_execution["stateMachineArn"] == STATE_MACHINE_ARN
    assert start_sync_execution["name"] == REQUEST_ID
    assert json.loads(start_sync_execution["input"]) == {"request_id": REQUEST_ID, "request": body}


def test_a_refused_start_sync_execution_call_answers_json():
    """Step Functions' own error answer (throttled, misconfigured) becomes the 502 body."""
    refusal = {"__type": "com.amazon.coral.availability#ThrottlingException",
               "message": "Rate exceeded: 'StartSyncExecution' \"burst\""}  # fmt: skip
    (rendered,) = render(api_templates.integration_failure_response(), [json.dumps(refusal)])
    assert json.loads(rendered["output"]) == {
        "error": "PipelineUnavailable", "request_id": REQUEST_ID, "message": refusal["message"],
    }  # fmt: skip
