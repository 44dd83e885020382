"""Hand-built domain objects for unit tests: models, nodes, snapshots, contexts, candidates."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mecroute.adapters.onnx_engine import FEATURES
from mecroute.adapters.ports import NodeAnswer
from mecroute.domain.estimates import REGIONAL_PATH_PRIOR, RoutingOverhead
from mecroute.domain.messages import (
    Candidate,
    CloudStatus,
    ContextAnalysis,
    CriterionScores,
    ExecutionResult,
    MonitorRecord,
    NodeStatus,
    ResourceSnapshot,
    RoutingDecision,
    TierStat,
)
from mecroute.domain.registry import ModelSpec
from mecroute.domain.request import CriterionWeights, InferenceRequest, Privacy, TaskType
from mecroute.mec.zoo import CATALOGUE, LABELS, artifact_key

NOW = 1_700_000_000.0
DEVICE_MODEL = "tinytext-device-v1"
EDGE_SMALL = "edge-small-v1"
EDGE_LARGE = "edge-large-v1"
CLOUD_MODEL = "cloud-frontier-v1"


def model_spec(model_id: str, **overrides: Any) -> ModelSpec:
    """A registry entry shaped like the zoo's, sized from the entry's MLP without building ONNX."""
    entry = next(e for e in CATALOGUE if e.model_id == model_id)
    params = FEATURES * entry.width + (entry.depth - 1) * entry.width**2 + entry.width * LABELS
    size_mb = round(params * 4 / 1e6, 3)
    fields: dict[str, Any] = {
        "model_id": entry.model_id,
        "tiers": list(entry.tiers),
        "size_mb": size_mb,
        "memory_mb": round(size_mb * 1.5 + 8, 1),
        "sha256": hashlib.sha256(entry.model_id.encode()).hexdigest(),
        "artifact_key": artifact_key(entry),
        "latency_ms": entry.latency_ms,
        "accuracy": entry.accuracy,
        "accuracy_source": entry.accuracy_source,
        "accuracy_easy": entry.accuracy_easy,
        "accuracy_hard": entry.accuracy_hard,
        "outcome_reference": entry.outcome_reference,
        "price_per_1k_input_usd": entry.price_per_1k_input_usd,
        "price_per_1k_output_usd": entry.price_per_1k_output_usd,
        "use_cases": list(entry.use_cases),
    }
    return ModelSpec(**{**fields, **overrides})


def zoo_specs() -> list[ModelSpec]:
    return [model_spec(entry.model_id) for entry in CATALOGUE]


def node_status(node_id: str = "mec-a", **overrides: Any) -> NodeStatus:
    fields: dict[str, Any] = {
        "node_id": node_id,
        "site": f"site-{node_id}",
        "endpoint": f"http://127.0.0.1:9/{node_id}",
        "region": "us-east-1",
        "healthy": True,
        "slots": 4,
        "free_slots": 4,
        "queue_depth": 0,
        "queue_limit": 16,
        "utilisation": 0.0,
        "speed_factor": 1.0,
        "site_rtt_ms": 2.0,
        "memory_budget_mb": 2048.0,
        "hot_models": [],
        "heartbeat_age_s": 0.0,
    }
    return NodeStatus(**{**fields, **overrides})


def snapshot(
    nodes: list[NodeStatus] | None = None,
    models: list[ModelSpec] | None = None,
    *,
    cloud_available: bool = True,
    cloud_region: str = "us-east-1",
    backhaul_rtt_ms: float = 60.0,
    stats: list[TierStat] | None = None,
    routing_overhead: RoutingOverhead = REGIONAL_PATH_PRIOR,
) -> ResourceSnapshot:
    return ResourceSnapshot(
        taken_at=NOW,
        nodes=[node_status()] if nodes is None else nodes,
        models=zoo_specs() if models is None else models,
        cloud=CloudStatus(
            available=cloud_available,
            provider="simulator",
            region=cloud_region,
            backhaul_rtt_ms=backhaul_rtt_ms,
        ),
        stats=stats or [],
        routing_overhead=routing_overhead,
    )


def context(
    request: dict[str, Any] | None = None,
    *,
    request_id: str = "req-1",
    task_type: TaskType = "chat",
    complexity: float = 0.3,
    input_tokens: int = 20,
    output_tokens: int = 64,
    device_score: float = 0.6,
    network_score: float = 0.8,
    personal_data: list[str] | None = None,
    effective_privacy: Privacy | None = None,
) -> ContextAnalysis:
    """A context analysis built by hand, so router tests do not depend on the context agent."""
    parsed = InferenceRequest.model_validate({"prompt": "hello there", **(request or {})})
    return ContextAnalysis(
        request_id=request_id,
        request=parsed,
        task_type=task_type,
        complexity=complexity,
        complexity_source="heuristic",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        device_score=device_score,
        network_score=network_score,
        personal_data=personal_data or [],
        effective_privacy=effective_privacy or parsed.privacy,
        prompt_sha256=hashlib.sha256(parsed.prompt.encode()).hexdigest(),
        received_at=NOW,
    )


def candidate(
    tier: str = "mec",
    model_id: str = EDGE_SMALL,
    *,
    node_id: str | None = "mec-a",
    endpoint: str | None = "http://127.0.0.1:9/mec-a",
    placement: str = "warm",
    predicted_latency_ms: float = 120.0,
    network_ms: float = 30.0,
) -> Candidate:
    if tier != "mec":
        node_id = endpoint = None
    return Candidate(
        tier=tier,
        node_id=node_id,
        endpoint=endpoint,
        model_id=model_id,
        placement=placement,
        predicted_latency_ms=predicted_latency_ms,
        network_ms=network_ms,
        predicted_accuracy=0.6,
        predicted_cost_usd=0.0,
        scores=CriterionScores(latency=0.9, accuracy=0.6, cost=1.0, availability=0.99),
        score=0.8,
    )


def execution_result(
    request_id: str = "req-1", *, latency_ms: float = 150.0, **overrides: Any
) -> ExecutionResult:
    fields: dict[str, Any] = {
        "request_id": request_id,
        "tier": "mec",
        "node_id": "mec-a",
        "model_id": EDGE_SMALL,
        "output": "label 3 (confidence 0.41, edge-small-v1)",
        "latency_ms": latency_ms,
        "compute_ms": 40.0,
        "cost_usd": 0.00001,
    }
    return ExecutionResult(**{**fields, **overrides})


def decision(
    primary: Candidate | None = None, *, request_id: str = "req-1", reason: str = "because"
) -> RoutingDecision:
    chosen = [primary] if primary else []
    return RoutingDecision(
        request_id=request_id,
        primary=primary,
        fallbacks=[],
        candidates=chosen,
        rejected=[],
        weights=CriterionWeights().normalised(),
        confidence=0.7 if primary else 0.0,
        reason=reason,
    )


def rest_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    request_id: str = "api-req-1",
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the stage hands it to a LambdaIntegration (a body
    that is not already a string is sent as JSON); `identity`: who API Gateway verified
    (`apiKeyId` in api_key mode, `userArn` in iam mode)."""
    resource = resource or path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {"requestId": request_id, "resourcePath": resource,
                           "httpMethod": method, "stage": "dev", "path": f"/dev{path}",
                           "identity": {"sourceIp": "198.51.100.7", **(identity or {})}},
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }  # fmt: skip


def node_answer(output: str, compute_ms: float) -> NodeAnswer:
    """A MEC node's answer to a five-token prompt: seven tokens, not queued."""
    return NodeAnswer(
        output=output, compute_ms=compute_ms, queued_ms=0.0, input_tokens=5, output_tokens=7
    )


def past_record(request_id: str, user_id: str, recorded_at: float) -> MonitorRecord:
    """A succeeded request in the decision log, for tests that count a user's recent requests."""
    return MonitorRecord(
        request_id=request_id,
        user_id=user_id,
        status="succeeded",
        decision=None,
        result=None,
        sla_met=True,
        recorded_at=recorded_at,
    )
