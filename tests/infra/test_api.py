"""The REST API as synthesised: authorisation, validation against the generated schemas, the
StartSyncExecution integration and its templates, throttling, logs, tracing and WAF."""

from __future__ import annotations

import json
from typing import Any

from infra.config import AppConfig, cdk_json_context
from infra_synthesis import Synthesis

from infra import api_templates
from mecroute.domain.chat import ChatCompletionRequest
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR
from mecroute.domain.feedback import Feedback
from mecroute.domain.request import InferenceRequest
from mecroute.domain.schema import api_gateway_schema

CONFIG = AppConfig.model_validate(cdk_json_context())
ROUTES = {
    ("POST", "inference"), ("POST", "completions"), ("GET", "models"), ("GET", "nodes"),
    ("GET", "usage"), ("GET", "stats"), ("GET", "{request_id}"), ("POST", "feedback"),
}  # fmt: skip
PIPELINE_ROUTES = {("POST", "inference"), ("POST", "completions")}


def methods(synthesis: Synthesis) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, last path part) -> method properties."""
    resources = synthesis.of_type("AWS::ApiGateway::Resource")
    found = {}
    for method in synthesis.of_type("AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        part = resources[properties["ResourceId"]["Ref"]]["Properties"]["PathPart"]
        found[(properties["HttpMethod"], part)] = properties
    return found


def model_schema(synthesis: Synthesis, method: dict[str, Any]) -> dict[str, Any]:
    (reference,) = method["RequestModels"].values()
    model = synthesis.resources[reference["Ref"]]
    schema: dict[str, Any] = model["Properties"]["Schema"]
    return schema


def test_every_route_exists_and_every_one_is_sigv4_signed(synthesis: Synthesis):
    found = methods(synthesis)
    assert set(found) == ROUTES
    for method in found.values():
        assert method["AuthorizationType"] == "AWS_IAM"
        assert method.get("ApiKeyRequired") in (None, False)


def test_api_is_regional(synthesis: Synthesis):
    (api,) = synthesis.of_type("AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_inference_request_validated_against_the_pydantic_model(synthesis: Synthesis):
    inference = methods(synthesis)[("POST", "inference")]
    assert "RequestValidatorId" in inference
    assert model_schema(synthesis, inference) == api_gateway_schema(InferenceRequest)
    (validator,) = synthesis.of_type("AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestBody"] is True
    assert validator["Properties"]["ValidateRequestParameters"] is True


def test_feedback_validated_against_its_pydantic_model(synthesis: Synthesis):
    feedback = methods(synthesis)[("POST", "feedback")]
    assert model_schema(synthesis, feedback) == api_gateway_schema(Feedback)


def test_inference_starts_the_express_machine_synchronously(synthesis: Synthesis):
    integration = methods(synthesis)[("POST", "inference")]["Integration"]
    assert integration["Type"] == "AWS"
    assert integration["PassthroughBehavior"] == "NEVER"
    assert "states:action/StartSyncExecution" in json.dumps(integration["Uri"])
    (machine_id,) = synthesis.of_type("AWS::StepFunctions::StateMachine")
    request = integration["RequestTemplates"]["application/json"]
    assert {"Ref": machine_id} in request["Fn::Join"][1]


def test_inference_response_template_is_the_generated_one(synthesis: Synthesis):
    integration = methods(synthesis)[("POST", "inference")]["Integration"]
    by_status = {r["StatusCode"]: r for r in integration["IntegrationResponses"]}
    assert by_status["200"]["ResponseTemplates"]["application/json"] == (
        api_templates.start_execution_response()
    )
    assert by_status["502"]["SelectionPattern"] == r"[45]\d{2}"


def test_inference_declares_every_status_the_template_can_set(synthesis: Synthesis):
    declared = {
        r["StatusCode"] for r in methods(synthesis)[("POST", "inference")]["MethodResponses"]
    }
    assert declared == {"200", "502", *(str(s) for s in HTTP_STATUS_BY_ERROR.values())}


def test_chat_completions_run_the_same_pipeline_with_the_chat_schema_and_templates(
    synthesis: Synthesis,
):
    chat = methods(synthesis)[("POST", "completions")]
    integration = chat["Integration"]
    assert model_schema(synthesis, chat) == api_gateway_schema(ChatCompletionRequest)
    assert "states:action/StartSyncExecution" in json.dumps(integration["Uri"])
    by_status = {r["StatusCode"]: r for r in integration["IntegrationResponses"]}
    assert by_status["200"]["ResponseTemplates"]["application/json"] == (
        api_templates.chat_completion_response()
    )
    responses = {r["StatusCode"]: r for r in chat["MethodResponses"]}
    assert set(responses) == {"200", "502", *(str(s) for s in HTTP_STATUS_BY_ERROR.values())}
    assert set(responses["200"]["ResponseParameters"]) == {
        f"method.response.header.{name}"
        for name in ("x-mecroute-tier", "x-mecroute-node", "x-mecroute-model",
                     "x-mecroute-request-id")
    }  # fmt: skip


def test_reads_and_feedback_are_lambda_proxies(synthesis: Synthesis):
    for route in ROUTES - PIPELINE_ROUTES:
        assert methods(synthesis)[route]["Integration"]["Type"] == "AWS_PROXY", route
    decision = methods(synthesis)[("GET", "{request_id}")]
    assert decision["RequestParameters"] == {"method.request.path.request_id": True}


def test_gateway_errors_answer_in_the_pipeline_error_shape(synthesis: Synthesis):
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synthesis.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {"BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"}
    bad_body = responses["BAD_REQUEST_BODY"]
    assert bad_body["StatusCode"] == "400"
    assert '"error": "InvalidRequest"' in bad_body["ResponseTemplates"]["application/json"]


def test_a_throttled_caller_is_told_the_stages_limit_and_that_it_is_shared(synthesis: Synthesis):
    """iam mode has no per-principal request limit (docs/security.md): the 429 says so."""
    (throttled,) = [
        r["Properties"]
        for r in synthesis.of_type("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "THROTTLED"
    ]
    body = json.loads(throttled["ResponseTemplates"]["application/json"])
    assert throttled["StatusCode"] == "429"
    assert throttled["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert body["error"] == "TooManyRequests"
    rate = f"{CONFIG.api_rate_limit:g} requests/s (burst {CONFIG.api_burst_limit})"
    assert rate in body["message"]
    assert "shared by every caller" in body["message"]
    assert body["request_id"] == "$context.requestId"


def test_stage_throttled_traced_and_access_logged(synthesis: Synthesis):
    (stage,) = synthesis.of_type("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == CONFIG.stage
    assert properties["TracingEnabled"] is True
    (settings,) = properties["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == CONFIG.api_rate_limit
    assert settings["ThrottlingBurstLimit"] == CONFIG.api_burst_limit
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False  # request bodies carry prompts
    access_log = json.loads(properties["AccessLogSetting"]["Format"])
    assert access_log["requestId"] == "$context.requestId"
    assert access_log["xrayTraceId"] == "$context.xrayTraceId"


def test_stage_is_behind_waf_with_rate_limit_and_managed_rules(synthesis: Synthesis):
    (acl_id,) = synthesis.of_type("AWS::WAFv2::WebACL")
    (acl,) = synthesis.of_type("AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    assert rules["RateLimitPerClientIp"]["Statement"]["RateBasedStatement"]["Limit"] == (
        CONFIG.waf_rate_limit_per_5min
    )
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    (association,) = synthesis.of_type("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_no_api_key_or_usage_plan_in_iam_mode(synthesis: Synthesis):
    assert not synthesis.of_type("AWS::ApiGateway::ApiKey")
    assert not synthesis.of_type("AWS::ApiGateway::UsagePlan")
