"""The public REST API: `POST /v1/inference` runs the pipeline synchronously; reads and
feedback go to two small Lambdas. Requests are validated against schemas generated from the
pydantic models, signed with SigV4 (or, by choice, carry an API key), throttled, logged,
traced and filtered by AWS WAF."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import api_templates
from infra.agents import Agents
from infra.common import log_group
from infra.config import AppConfig
from infra.function import PythonFunction
from infra.layers import Layers
from infra.storage import Storage
from infra.streaming import Streaming
from mecroute.domain.chat import ChatCompletionRequest
from mecroute.domain.errors import HTTP_STATUS_BY_ERROR
from mecroute.domain.feedback import Feedback
from mecroute.domain.request import InferenceRequest
from mecroute.domain.schema import api_gateway_schema
from mecroute.lambda_support.manifest import BY_NAME

JSON = "application/json"
CHAT_DECISION_HEADERS = ("x-mecroute-tier", "x-mecroute-node", "x-mecroute-model",
                         "x-mecroute-request-id")  # fmt: skip
ERROR_STATUSES = sorted({*HTTP_STATUS_BY_ERROR.values(), api_templates.UNNAMED_FAILURE_STATUS})
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "userArn": "$context.identity.userArn",
    "apiKeyId": "$context.identity.apiKeyId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "errorMessage": "$context.error.message",
    "validationError": "$context.error.validationErrorString",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
}
# _SCHEMA_KEYWORDS maps draft-4 keywords to aws_apigateway.JsonSchema's argument names.
_SCHEMA_KEYWORDS = {
    "$schema": "schema",
    "additionalProperties": "additional_properties",
    "anyOf": "any_of",
    "allOf": "all_of",
    "oneOf": "one_of",
    "not": "not_",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "maxItems": "max_items",
    "minItems": "min_items",
    "maxLength": "max_length",
    "minLength": "min_length",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
    "multipleOf": "multiple_of",
    "patternProperties": "pattern_properties",
    "uniqueItems": "unique_items",
}


def json_schema(draft4: dict[str, Any]) -> apigateway.JsonSchema:
    """A draft-4 schema dict (mecroute.domain.schema) as CDK's typed JsonSchema."""
    arguments: dict[str, Any] = {}
    for keyword, value in draft4.items():
        name = _SCHEMA_KEYWORDS.get(keyword, keyword)
        if keyword == "$schema":
            value = apigateway.JsonSchemaVersion.DRAFT4
        elif keyword == "type":
            value = (
                [apigateway.JsonSchemaType(t.upper()) for t in value]
                if isinstance(value, list)
                else apigateway.JsonSchemaType(value.upper())
            )
        elif keyword in ("properties", "patternProperties"):
            value = {key: json_schema(sub) for key, sub in value.items()}
        elif keyword in ("anyOf", "allOf", "oneOf"):
            value = [json_schema(sub) for sub in value]
        elif keyword in ("items", "additionalProperties", "not") and isinstance(value, dict):
            value = json_schema(value)
        arguments[name] = value
    return apigateway.JsonSchema(**arguments)


def _start_sync_execution(
    state_machine: sfn.IStateMachine, request_template: str, response_template: str
) -> apigateway.Integration:
    """StartSyncExecution with the route's templates; Step Functions refusing the call is 502."""
    return apigateway.StepFunctionsIntegration.start_execution(
        state_machine,
        request_templates={JSON: request_template},
        integration_responses=[
            apigateway.IntegrationResponse(
                status_code="200", response_templates={JSON: response_template}
            ),
            apigateway.IntegrationResponse(
                selection_pattern=r"[45]\d{2}",
                status_code="502",
                response_templates={JSON: api_templates.integration_failure_response()},
            ),
        ],
        use_default_method_responses=False,
    )


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        state_machine: sfn.IStateMachine,
        layers: Layers,
        storage: Storage,
        streaming: Streaming,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = log_group(self, "AccessLogs", config.log_retention)
        iam_auth = config.api_auth == "iam"
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"mecroute-{config.stage}",
            description="mecroute: route AI inference across device, MEC and cloud tiers",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Retained (CDK's default) when the stack goes: it is an account-wide setting that
            # other APIs in the account may rely on by then.
            cloud_watch_role=config.api_cloudwatch_role,
            default_method_options=apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.IAM
                if iam_auth
                else apigateway.AuthorizationType.NONE,
                api_key_required=not iam_auth,
            ),
            deploy_options=apigateway.StageOptions(
                stage_name=config.stage,
                tracing_enabled=True,
                metrics_enabled=True,
                # ERROR, not INFO, and no data trace: request bodies carry prompts.
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
        )
        self.validator = self.rest_api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self.error_model = self.rest_api.add_model(
            "ErrorModel",
            content_type=JSON,
            model_name="Error",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4,
                title="Error",
                type=apigateway.JsonSchemaType.OBJECT,
                required=["error", "request_id"],
                properties={
                    "error": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING),
                    "message": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING),
                    "request_id": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING),
                },
            ),
        )
        self._gateway_responses()
        self._limit_responses(config, iam_auth)
        v1 = self.rest_api.root.add_resource("v1")
        self._inference(v1, state_machine)
        self._chat_completions(v1, state_machine)
        self._reads_and_feedback(v1, config, layers, storage, streaming)
        self.web_acl = self._firewall(config)
        if not iam_auth:
            self._usage_plan(config)

    def _model(self, name: str, schema: dict[str, Any]) -> apigateway.Model:
        return self.rest_api.add_model(
            f"{name}Model", content_type=JSON, model_name=name, schema=json_schema(schema)
        )

    def _inference(self, v1: apigateway.Resource, state_machine: sfn.IStateMachine) -> None:
        integration = _start_sync_execution(
            state_machine,
            api_templates.start_execution_request(state_machine.state_machine_arn),
            api_templates.start_execution_response(),
        )
        self.inference_method = v1.add_resource("inference").add_method(
            "POST",
            integration,
            request_validator=self.validator,
            request_models={
                JSON: self._model("InferenceRequest", api_gateway_schema(InferenceRequest))
            },
            method_responses=[
                apigateway.MethodResponse(
                    status_code="200", response_models={JSON: apigateway.Model.EMPTY_MODEL}
                ),
                *(
                    apigateway.MethodResponse(
                        status_code=str(status), response_models={JSON: self.error_model}
                    )
                    for status in ERROR_STATUSES
                ),
            ],
        )

    def _chat_completions(self, v1: apigateway.Resource, state_machine: sfn.IStateMachine) -> None:
        """OpenAI's `POST /v1/chat/completions` through the same pipeline; the body is validated
        against the schema of mecroute.domain.chat.ChatCompletionRequest, the answer and the
        errors are OpenAI's shape with the decision in `x-mecroute-*` headers."""
        headers = {f"method.response.header.{name}": True for name in CHAT_DECISION_HEADERS}
        integration = _start_sync_execution(
            state_machine,
            api_templates.chat_request(state_machine.state_machine_arn),
            api_templates.chat_completion_response(),
        )
        self.chat_method = (
            v1.add_resource("chat")
            .add_resource("completions")
            .add_method(
                "POST",
                integration,
                request_validator=self.validator,
                request_models={
                    JSON: self._model(
                        "ChatCompletionRequest", api_gateway_schema(ChatCompletionRequest)
                    )
                },
                method_responses=[
                    apigateway.MethodResponse(
                        status_code="200",
                        response_models={JSON: apigateway.Model.EMPTY_MODEL},
                        response_parameters=headers,
                    ),
                    *(
                        apigateway.MethodResponse(
                            status_code=str(status),
                            response_models={JSON: apigateway.Model.EMPTY_MODEL},
                        )
                        for status in ERROR_STATUSES
                    ),
                ],
            )
        )

    def _reads_and_feedback(
        self,
        v1: apigateway.Resource,
        config: AppConfig,
        layers: Layers,
        storage: Storage,
        streaming: Streaming,
    ) -> None:
        available = {
            **storage.environment(),
            "METRICS_STREAM": streaming.metrics_stream.stream_name,
        }
        targets = Agents.targets(storage, streaming)

        def api_function(construct_id: str, agent: str) -> PythonFunction:
            return PythonFunction(
                self,
                construct_id,
                spec=BY_NAME[agent],
                targets=targets,
                available_environment=available,
                layers=[layers.shared],
                log_retention=config.log_retention,
                timeout=Duration.seconds(10),
            )

        self.reads = api_function("Reads", "api_reads")
        reads = apigateway.LambdaIntegration(self.reads.function)
        v1.add_resource("models").add_method("GET", reads)
        v1.add_resource("nodes").add_method("GET", reads)
        v1.add_resource("usage").add_method("GET", reads)
        v1.add_resource("stats").add_method("GET", reads)
        v1.add_resource("decisions").add_resource("{request_id}").add_method(
            "GET",
            reads,
            request_parameters={"method.request.path.request_id": True},
            request_validator=self.validator,
        )

        self.feedback = api_function("Feedback", "feedback")
        v1.add_resource("feedback").add_method(
            "POST",
            apigateway.LambdaIntegration(self.feedback.function),
            request_validator=self.validator,
            request_models={JSON: self._model("Feedback", api_gateway_schema(Feedback))},
        )

    def _gateway_responses(self) -> None:
        self.rest_api.add_gateway_response(
            "BadRequestBody",
            type=apigateway.ResponseType.BAD_REQUEST_BODY,
            status_code="400",
            templates={JSON: api_templates.validation_failure_response()},
        )
        for response_type, error in (
            (apigateway.ResponseType.DEFAULT_4_XX, "RequestRejected"),
            (apigateway.ResponseType.DEFAULT_5_XX, "GatewayError"),
        ):
            self.rest_api.add_gateway_response(
                f"Default{error}",
                type=response_type,
                templates={JSON: api_templates.gateway_error_response(error)},
            )

    def _limit_responses(self, config: AppConfig, iam_auth: bool) -> None:
        """429s that name the limit the caller hit (docs/security.md, per-caller limits)."""
        rate = f"{config.api_rate_limit:g} requests/s (burst {config.api_burst_limit})"
        throttled = (
            f"over the stage's limit of {rate}, shared by every caller"
            if iam_auth
            else f"over the usage plan's limit of {rate} per API key"
        )
        self.rest_api.add_gateway_response(
            "Throttled",
            type=apigateway.ResponseType.THROTTLED,
            status_code="429",
            response_headers={"Retry-After": "'1'"},
            templates={JSON: api_templates.limit_response("TooManyRequests", throttled)},
        )
        if not iam_auth:
            quota = (
                f"over the usage plan's quota of {config.api_quota_per_day} requests per day "
                "per API key (it resets at 00:00 UTC)"
            )
            self.rest_api.add_gateway_response(
                "QuotaExceeded",
                type=apigateway.ResponseType.QUOTA_EXCEEDED,
                status_code="429",
                templates={JSON: api_templates.limit_response("QuotaExceeded", quota)},
            )

    def _firewall(self, config: AppConfig) -> wafv2.CfnWebACL:
        def managed(
            priority: int, name: str, overrides: tuple[str, ...] = ()
        ) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=name,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule,
                                action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                            )
                            for rule in overrides
                        ]
                        or None,
                    )
                ),
                visibility_config=_visibility(name),
            )

        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"mecroute-{config.stage}-api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerClientIp",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP", limit=config.waf_rate_limit_per_5min
                        )
                    ),
                    visibility_config=_visibility("RateLimitPerClientIp"),
                ),
                # Prompts may be up to 16,000 characters: the common set's 8 KB body-size
                # rule only counts; API Gateway's request model enforces the real limit.
                managed(1, "AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
                managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=web_acl.attr_arn,
        )
        return web_acl

    def _usage_plan(self, config: AppConfig) -> None:
        """api_key mode: each client's key is throttled and capped by the usage plan (its 429s
        name the limit: _limit_responses)."""
        plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"mecroute-{config.stage}",
            throttle=apigateway.ThrottleSettings(
                rate_limit=config.api_rate_limit, burst_limit=config.api_burst_limit
            ),
            quota=apigateway.QuotaSettings(
                limit=config.api_quota_per_day, period=apigateway.Period.DAY
            ),
        )
        plan.add_api_stage(stage=self.rest_api.deployment_stage)
        plan.add_api_key(
            self.rest_api.add_api_key("ApiKey", api_key_name=f"mecroute-{config.stage}")
        )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True,
        metric_name=metric_name,
        sampled_requests_enabled=True,
    )
