"""The API's mapping templates, rendered offline with velocityjs: the deployed API must answer
exactly what the local API answers (mecroute.local.api.response_for) for the same execution."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra import api_templates
from mecroute.agents.context import parse_request
from mecroute.domain.chat import (
    completion_from_record,
    from_pipeline_request,
    openai_error,
    to_inference_request,
)
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR, InvalidRequest
from mecroute.domain.identity import principal_user_id
from mecroute.domain.messages import MonitorRecord
from mecroute.domain.request import IDENTIFIER_PATTERN
from mecroute.local.api import response_for
from mecroute.local.runtime import Run

ROOT = Path(__file__).resolve().parents[2]
RENDERER = Path(__file__).with_name("render_vtl.cjs")
STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:Pipeline"
REQUEST_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
REQUEST_TIME_EPOCH_MS = 1_764_451_200_123

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "velocityjs").is_dir(),
    reason="needs node and `npm ci` (velocityjs renders the templates)",
)


def render(
    template: str,
    bodies: list[str],
    headers: dict[str, str] | None = None,
    identity: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """`identity`: API Gateway's $context.identity (apiKeyId, userArn) for the request."""
    cases = [
        {"template": template, "body": body, "requestId": REQUEST_ID, "headers": headers or {},
         "requestTimeEpoch": REQUEST_TIME_EPOCH_MS, "identity": identity or {}}
        for body in bodies
    ]  # fmt: skip
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
    assert json.loads(start_sync_execution["input"]) == {
        "request_id": REQUEST_ID, "arrived_at_ms": REQUEST_TIME_EPOCH_MS,
        "request": {"inference": body, "caller": {"api_key_id": "", "user_arn": ""}},
    }  # fmt: skip


# -- Callers are who they authenticate as ---------------------------------------------------

KEY_CALLER = {"apiKeyId": "a1b2c3d4e5"}  # api_key mode
ROLE_ARN = "arn:aws:sts::123456789012:assumed-role/mecroute-client/"  # iam mode, + a session


def pipeline_request_of(template: str, body: dict[str, Any], identity: dict[str, str]) -> Any:
    (rendered,) = render(template, [json.dumps(body)], identity=identity)
    return json.loads(json.loads(rendered["output"])["input"])["request"]


@pytest.mark.parametrize("template", ["inference", "chat"])
def test_the_request_runs_as_the_api_key_not_as_the_body_says(template: str):
    """api_key mode: the key's id is the user, whatever user_id (chat: user) the body sends."""
    body = ({**CHAT, "user": "mallory"} if template == "chat"
            else {"prompt": "Hi", "user_id": "mallory"})  # fmt: skip
    build = (
        api_templates.chat_request if template == "chat" else api_templates.start_execution_request
    )

    request = parse_request(pipeline_request_of(build(STATE_MACHINE_ARN), body, KEY_CALLER))

    assert request.user_id == "key-a1b2c3d4e5"


def test_a_sigv4_principal_is_a_short_stable_user_id_whatever_its_session():
    """iam mode: the principal's ARN (with `/`, past 64 characters) becomes `iam-` + a hash in
    Python; an assumed role's session name, which the caller chooses, is not part of it."""
    template = api_templates.start_execution_request(STATE_MACHINE_ARN)
    body = {"prompt": "Hi", "user_id": "mallory"}

    def user_of(arn: str) -> str:
        return parse_request(pipeline_request_of(template, body, {"userArn": arn})).user_id

    first, second = user_of(ROLE_ARN + "session-1"), user_of(ROLE_ARN + "x" * 64)
    other_role = user_of("arn:aws:sts::123456789012:assumed-role/other/session-1")
    iam_user = user_of("arn:aws:iam::123456789012:user/team/alice")

    assert first == second == principal_user_id(ROLE_ARN + "anything")
    assert len({first, other_role, iam_user, "mallory"}) == 4
    for user_id in (first, other_role, iam_user):
        assert re.fullmatch(IDENTIFIER_PATTERN, user_id)
        assert user_id.startswith("iam-")


def test_a_refused_start_sync_execution_call_answers_json():
    """Step Functions' own error answer (throttled, misconfigured) becomes the 502 body."""
    refusal = {"__type": "com.amazon.coral.availability#ThrottlingException",
               "message": "Rate exceeded: 'StartSyncExecution' \"burst\""}  # fmt: skip
    (rendered,) = render(api_templates.integration_failure_response(), [json.dumps(refusal)])
    assert json.loads(rendered["output"]) == {
        "error": "PipelineUnavailable", "request_id": REQUEST_ID, "message": refusal["message"],
    }  # fmt: skip


# -- POST /v1/chat/completions ------------------------------------------------------------------

CHAT = {"model": "auto", "max_tokens": 40, "mecroute": {"sla": {"max_latency_ms": 800}},
        "messages": [{"role": "user", "content": 'Capital of "France"? caf\u00e9'}]}  # fmt: skip
ROUTING_HEADERS = {"X-Mecroute-Privacy": "regional", "x-mecroute-network": '{"radio": "lte"}'}


def test_chat_request_template_sends_the_envelope_the_context_agent_translates():
    headers = {**ROUTING_HEADERS, "Authorization": "AWS4-HMAC-SHA256 ...", "Accept": "*/*"}

    (rendered,) = render(api_templates.chat_request(STATE_MACHINE_ARN), [json.dumps(CHAT)], headers)

    pipeline_input = json.loads(json.loads(rendered["output"])["input"])
    assert pipeline_input["request_id"] == REQUEST_ID
    envelope = pipeline_input["request"]
    assert envelope["headers"] == {k.lower(): v for k, v in ROUTING_HEADERS.items()}
    assert from_pipeline_request(envelope) == to_inference_request(CHAT, headers)[1]


def test_chat_request_template_makes_a_stream_request_a_400_that_names_the_gateway():
    (rendered,) = render(
        api_templates.chat_request(STATE_MACHINE_ARN), [json.dumps({**CHAT, "stream": True})]
    )
    envelope = json.loads(json.loads(rendered["output"])["input"])["request"]

    with pytest.raises(InvalidRequest) as refused:
        from_pipeline_request(envelope)

    (problem,) = refused.value.problems
    assert problem["field"] == "stream"
    assert "gateway" in problem["problem"]


SERVED = {
    "request_id": REQUEST_ID, "user_id": "anonymous", "status": "succeeded", "sla_met": True,
    "recorded_at": 1_764_451_200.5,
    "decision": {"request_id": REQUEST_ID, "primary": None, "fallbacks": [], "candidates": [],
                 "rejected": [], "weights": {"latency": 0.4, "accuracy": 0.3, "cost": 0.2,
                                             "availability": 0.1},
                 "confidence": 0.5, "reason": 'mec/mec-metro-1/edge-small-v1 scored 0.94 "q"'},
    "result": {"request_id": REQUEST_ID, "tier": "mec", "node_id": "mec-metro-1",
               "model_id": "edge-small-v1", "output": 'Paris, "quoted" \u00e9\nnext line',
               "latency_ms": 54.9, "compute_ms": 40.25, "cost_usd": 0.0000027,
               "from_cache": False, "input_tokens": 9, "output_tokens": 31,
               "finish_reason": "length"},
    "failures": [{"candidate": "mec/mec-venue-1/edge-small-v1", "error": "TierUnavailable",
                  "cause": "down"}],
}  # fmt: skip


@pytest.mark.parametrize(
    "record",
    [SERVED, {**SERVED, "failures": [], "result": {**SERVED["result"], "tier": "cloud",
                                                   "node_id": None, "cost_usd": 0.00021},
              "timing": {"end_to_end_ms": 612.5, "routing_overhead_ms": 190.25,
                         "execution_ms": 422.25}}],
    ids=["mec after a failed attempt", "cloud"],
)  # fmt: skip
def test_chat_response_template_answers_what_the_local_api_answers(record: dict[str, Any]):
    answer = start_sync_execution_answer("SUCCEEDED", None, None, record)

    (rendered,) = render(api_templates.chat_completion_response(), [json.dumps(answer)])

    expected = completion_from_record(
        MonitorRecord.model_validate(record), created=REQUEST_TIME_EPOCH_MS // 1000
    )
    assert rendered["status"] is None
    assert json.loads(rendered["output"]) == expected.model_dump(mode="json")
    assert rendered["headers"] == expected.decision_headers()


@pytest.mark.parametrize("name", [n for n, e in EXECUTIONS.items() if e[0] != "SUCCEEDED"])
def test_chat_errors_are_openais_shape_with_the_inference_statuses(name: str):
    status, error, cause, output = EXECUTIONS[name]
    answer = start_sync_execution_answer(status, error, cause, output)
    expected_status, native = response_for(
        Run(execution_arn="", request_id=REQUEST_ID, status=status, output=output, error=error,
            cause=cause, states=[], duration_ms=0.0)
    )  # fmt: skip

    (rendered,) = render(api_templates.chat_completion_response(), [json.dumps(answer)])

    assert rendered["status"] == expected_status
    assert json.loads(rendered["output"]) == openai_error(expected_status, native).model_dump()
