"""Monitor agent: one decision record per request, every outcome on the metrics stream."""

from __future__ import annotations

from typing import Any

from mecroute.adapters.ports import DecisionLog, MetricsStream
from mecroute.domain.messages import AttemptFailure, MonitorRecord
from mecroute.domain.tasks import (
    AttemptFailedTask,
    Attempts,
    FailedTask,
    RejectedTask,
    SucceededTask,
)


def attempt_failed(task: AttemptFailedTask, stream: MetricsStream, now: float) -> Attempts:
    """Record a failed attempt (the learning loop counts it) and move the cursor on."""
    target = task.target
    stream.publish(
        task.request_id,
        _outcome_event(
            task.request_id,
            target.tier,
            target.node_id,
            target.model_id,
            success=False,
            latency_ms=None,
            sla_met=False,
            cost_usd=0.0,
            at=now,
            error=task.error.Error,
        ),
    )
    failure = AttemptFailure(
        candidate=target.label, error=task.error.Error, cause=task.error.Cause[:1000]
    )
    return Attempts(
        index=task.attempts.index + 1,
        count=task.attempts.count,
        failures=[*task.attempts.failures, failure],
    )


def succeeded(
    task: SucceededTask, log: DecisionLog, stream: MetricsStream, now: float
) -> MonitorRecord:
    result = task.result
    sla_met = result.latency_ms <= task.context.request.sla.max_latency_ms
    record = MonitorRecord(
        request_id=task.context.request_id,
        user_id=task.context.request.user_id,
        status="succeeded",
        decision=task.decision,
        result=result,
        failures=task.failures,
        sla_met=sla_met,
        recorded_at=now,
    )
    log.put(record)
    stream.publish(
        record.request_id,
        _outcome_event(
            record.request_id,
            result.tier,
            result.node_id,
            result.model_id,
            success=True,
            latency_ms=result.latency_ms,
            sla_met=sla_met,
            cost_usd=result.cost_usd,
            at=now,
            from_cache=result.from_cache,
            fallbacks=len(task.failures),
        ),
    )
    return record


def failed(task: FailedTask, log: DecisionLog, stream: MetricsStream, now: float) -> MonitorRecord:
    detail = task.decision.reason
    if task.failures:
        detail = "every candidate failed: " + "; ".join(
            f"{f.candidate}: {f.error}" for f in task.failures
        )
    record = MonitorRecord(
        request_id=task.context.request_id,
        user_id=task.context.request.user_id,
        status="failed",
        error=task.error,
        error_detail=detail,
        decision=task.decision,
        result=None,
        failures=task.failures,
        sla_met=False,
        recorded_at=now,
    )
    log.put(record)
    stream.publish(
        record.request_id,
        {"kind": "failure", "request_id": record.request_id, "error": task.error, "at": now},
    )
    return record


def rejected(
    task: RejectedTask, log: DecisionLog, stream: MetricsStream, now: float
) -> MonitorRecord:
    record = MonitorRecord(
        request_id=task.request_id,
        user_id="unknown",
        status="failed",
        error=task.error.Error,
        error_detail=task.error.Cause[:2000],
        decision=None,
        result=None,
        sla_met=False,
        recorded_at=now,
    )
    log.put(record)
    stream.publish(
        record.request_id,
        {
            "kind": "rejection",
            "request_id": record.request_id,
            "error": task.error.Error,
            "at": now,
        },
    )
    return record


def _outcome_event(
    request_id: str,
    tier: str,
    node_id: str | None,
    model_id: str,
    *,
    success: bool,
    latency_ms: float | None,
    sla_met: bool,
    cost_usd: float,
    at: float,
    **extra: Any,
) -> dict[str, Any]:
    """What the aggregator consumes to learn latency and success per tier, node and model."""
    return {
        "kind": "outcome",
        "request_id": request_id,
        "tier": tier,
        "node_id": node_id or "-",
        "model_id": model_id,
        "success": success,
        "latency_ms": latency_ms,
        "sla_met": sla_met,
        "cost_usd": cost_usd,
        "at": at,
        **extra,
    }
