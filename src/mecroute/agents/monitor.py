"""Monitor agent: one decision record per request id, every outcome on the metrics stream.

Building a record is pure; storing it can fail (a throttled table, a stream refusing some
entries). Whatever could not be stored comes back in the receipt, the state machine parks it
in the record dead-letter queue, and `redrive` stores it once the store is back. Nothing is
lost and nothing is recorded twice: the decision record is written once per request id (a
conditional write), and only the stream events that were refused are parked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from mecroute.adapters.ports import DecisionLog, MetricsStream
from mecroute.domain.errors import AlreadyRecorded, StoreUnavailable, is_rejection
from mecroute.domain.events import OutcomeEvent, RequestFailedEvent
from mecroute.domain.messages import (
    AttemptFailure,
    MonitorRecord,
    RecordReceipt,
    Timing,
    UnstoredRecord,
)
from mecroute.domain.tasks import (
    AttemptFailedTask,
    Attempts,
    FailedInvocation,
    FailedTask,
    RecordTask,
    RejectedTask,
    StoreTask,
    SucceededTask,
    UnrecordedTask,
)


def attempt_failed(task: AttemptFailedTask, now: float) -> Attempts:
    """Note a failed attempt and move the cursor on. Nothing is stored here: the attempt's
    failure event goes out with the request's record, so a stream outage cannot end a
    request halfway through its fallbacks."""
    target = task.target
    failure = AttemptFailure(
        candidate=target.label,
        error=task.error.Error,
        cause=task.error.Cause[:1000],
        tier=target.tier,
        node_id=target.node_id,
        model_id=target.model_id,
        elapsed_ms=_elapsed_ms(task.started_at, task.failed_at),
    )
    return Attempts(
        index=task.attempts.index + 1,
        count=task.attempts.count,
        failures=[*task.attempts.failures, failure],
    )


def record(task: RecordTask, log: DecisionLog, stream: MetricsStream, now: float) -> RecordReceipt:
    """Build the request's record, then store it and publish its events."""
    built = build_record(task, now)
    return store(built, events_for(built), log, stream)


def build_record(task: RecordTask, now: float) -> MonitorRecord:
    if isinstance(task, StoreTask):
        return task.record  # built when the caller was answered
    if isinstance(task, SucceededTask):
        return outcome_record(task, now)
    if isinstance(task, FailedTask):
        return failure_record(task, now)
    return rejection_record(task, now)


def timing(task: SucceededTask) -> Timing | None:
    """Where the request's time went (see `Timing`), from its arrival at the API (the
    execution's start when the arrival is not known); None without the states' timestamps."""
    started_at = task.started_at
    if task.arrived_at_ms is not None:
        started_at = datetime.fromtimestamp(task.arrived_at_ms / 1000, UTC).isoformat()
    pipeline_ms = _elapsed_ms(started_at, task.finished_at)
    if pipeline_ms is None:
        return None
    result = task.result
    lost_ms = sum(f.elapsed_ms or 0.0 for f in task.failures)
    overhead_ms = max(0.0, pipeline_ms - lost_ms - result.compute_ms)
    if task.tiers_wall_ms is not None:
        overhead_ms = max(overhead_ms, pipeline_ms - task.tiers_wall_ms)
    return Timing(
        end_to_end_ms=round(overhead_ms + lost_ms + result.latency_ms, 3),
        routing_overhead_ms=round(overhead_ms, 3),
        execution_ms=round(result.latency_ms, 3),
    )


def outcome_record(task: SucceededTask, now: float) -> MonitorRecord:
    result = task.result
    timed = timing(task)
    # The caller also waited for every attempt that failed before this one answered.
    waited_ms = result.latency_ms + sum(f.elapsed_ms or 0.0 for f in task.failures)
    if timed is not None:
        waited_ms = timed.end_to_end_ms
    return MonitorRecord(
        request_id=task.request.request_id,
        user_id=task.request.user_id,
        status="succeeded",
        decision=task.decision,
        result=result,
        failures=task.failures,
        sla_met=waited_ms <= task.request.sla.max_latency_ms,
        recorded_at=now,
        timing=timed,
    )


def failure_record(task: FailedTask, now: float) -> MonitorRecord:
    detail = task.decision.reason
    if task.failures:
        detail = "every candidate failed: " + "; ".join(
            f"{f.candidate}: {f.error}" for f in task.failures
        )
    return MonitorRecord(
        request_id=task.request.request_id,
        user_id=task.request.user_id,
        status="failed",
        error=task.error,
        error_detail=detail,
        decision=task.decision,
        result=None,
        failures=task.failures,
        sla_met=False,
        recorded_at=now,
    )


def rejection_record(task: RejectedTask, now: float) -> MonitorRecord:
    return MonitorRecord(
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


def is_replay(record: MonitorRecord) -> bool:
    """An idempotent repeat: the execute agent answered with the result of an earlier request."""
    return record.result is not None and record.result.request_id != record.request_id


def events_for(record: MonitorRecord) -> list[OutcomeEvent | RequestFailedEvent]:
    """What the learning loop and the data lake get for one request: one outcome per failed
    attempt, then the request's own outcome. `event_id` lets a consumer drop a duplicate
    (a retried or redriven record publishes the same ids again)."""
    at, request_id = record.recorded_at, record.request_id
    events: list[OutcomeEvent | RequestFailedEvent] = []
    for failure in record.failures:
        if failure.tier is None or failure.model_id is None:
            continue  # failed before it reached a place: nothing to learn about
        events.append(
            OutcomeEvent(
                event_id=f"{request_id}:{len(events)}",
                request_id=request_id,
                tier=failure.tier,
                node_id=failure.node_id or "-",
                model_id=failure.model_id,
                success=False,
                latency_ms=None,
                at=at,
                error=failure.error,
            )
        )
    event_id = f"{request_id}:{len(events)}"
    result = record.result
    if result is None:
        kind: Literal["rejection", "failure"] = (
            "rejection" if is_rejection(record.error) else "failure"
        )
        failed = RequestFailedEvent(
            kind=kind, event_id=event_id, request_id=request_id, error=record.error, at=at
        )
        return [*events, failed]
    # An idempotent repeat: nothing ran again, so the loop must not count the earlier run twice.
    replay = is_replay(record)
    outcome = OutcomeEvent(
        kind="replay" if replay else "outcome",
        event_id=event_id,
        request_id=request_id,
        tier=result.tier,
        node_id=result.node_id or "-",
        model_id=result.model_id,
        success=True,
        latency_ms=result.latency_ms,
        sla_met=record.sla_met,
        cost_usd=0.0 if replay else result.cost_usd,
        at=at,
        from_cache=result.from_cache,
        fallbacks=len(record.failures),
        replay_of=result.request_id if replay else None,
        routing_overhead_ms=record.timing.routing_overhead_ms if record.timing else None,
    )
    return [*events, outcome]


def store(
    record: MonitorRecord,
    events: Sequence[OutcomeEvent | RequestFailedEvent],
    log: DecisionLog,
    stream: MetricsStream,
) -> RecordReceipt:
    """Write the record and publish the events; hand back whatever did not make it. A record
    stored already for this request id (a retried state) is kept as it was."""
    try:
        unstored = _store(record.request_id, record, events, log, stream)
    except AlreadyRecorded:
        return RecordReceipt(record=record, stored=True)
    return _receipt(record, unstored)


def store_answered(
    record: MonitorRecord, log: DecisionLog, stream: MetricsStream
) -> RecordReceipt | None:
    """RecordOutcome's event, which Lambda delivers at least once. Events go out before the
    record (see `_store`), so a stored record says an earlier delivery published them: a
    repeat writes, publishes and counts nothing, and gets None."""
    if log.get(record.request_id) is not None:
        return None
    try:
        unstored = _store(record.request_id, record, events_for(record), log, stream)
    except AlreadyRecorded:
        # A delivery running at the same time wrote it first: the events this one published
        # repeat that delivery's event ids, which consumers drop.
        return None
    return _receipt(record, unstored)


def _receipt(record: MonitorRecord, unstored: UnstoredRecord | None) -> RecordReceipt:
    if unstored is None:
        return RecordReceipt(record=record, stored=True)
    return RecordReceipt(record=record, stored=False, unstored=unstored)


def redrive(
    message: dict[str, Any], log: DecisionLog, stream: MetricsStream, now: float
) -> UnstoredRecord | None:
    """Store one message from the record dead-letter queue; returns what is still unstored.

    Three kinds of message: what the monitor could not store (an UnstoredRecord); the task of
    a Record* state whose monitor kept failing (an UnrecordedTask), recorded now; and Lambda's
    on-failure record of a RecordOutcome event it gave up on (a FailedInvocation), whose
    event is recorded now. The record is keyed by request id, so a redrive never adds one.
    """
    task: RecordTask
    if "unrecorded_task" in message:
        task = UnrecordedTask.model_validate(message).unrecorded_task
    elif "requestPayload" in message:
        task = FailedInvocation.model_validate(message).request_payload
    else:
        parked = UnstoredRecord.model_validate(message)
        try:
            return _store(parked.request_id, parked.record, parked.events, log, stream)
        except AlreadyRecorded:
            return None  # a repeated delivery of this message stored the record already
    built = build_record(task, now)
    if log.get(built.request_id) is not None:
        # An earlier delivery of this message recorded it (SQS delivers at least once), and
        # its events went out before the record was written (see `_store`).
        return None
    return store(built, events_for(built), log, stream).unstored


def _store(
    request_id: str,
    record: MonitorRecord | None,
    events: Sequence[OutcomeEvent | RequestFailedEvent],
    log: DecisionLog,
    stream: MetricsStream,
) -> UnstoredRecord | None:
    # Events first, the record last: a stored record says its events went out (redrive
    # relies on it), so a crash in between repeats events (their ids let a consumer drop
    # the repeat) and never loses one.
    reasons = []
    entries = [event.model_dump(mode="json") for event in events]
    refused = stream.publish_all(request_id, entries) if entries else []
    unpublished = [event for event, entry in zip(events, entries, strict=True) if entry in refused]
    unwritten = None
    if record is not None:
        try:
            log.put(record)
        except StoreUnavailable as error:
            unwritten = record
            reasons.append(str(error))
    if unpublished:
        reasons.append(f"the stream refused {len(unpublished)} of {len(events)} events")
    if unwritten is None and not unpublished:
        return None
    return UnstoredRecord(
        request_id=request_id, record=unwritten, events=unpublished, reason="; ".join(reasons)
    )


def _elapsed_ms(started_at: str | None, failed_at: str | None) -> float | None:
    """Milliseconds between two Step Functions context stamps (ISO 8601, `Z` or offset)."""
    if not started_at or not failed_at:
        return None
    try:
        started = datetime.fromisoformat(started_at)
        failed = datetime.fromisoformat(failed_at)
    except ValueError:
        return None
    return round(max(0.0, (failed - started).total_seconds() * 1000), 3)
