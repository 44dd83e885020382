"""One request through the gateway: the pipeline's states as the agents' own functions, in the
order and with the fallback chain of statemachines/inference_pipeline.asl.json, on the snapshot.

context (ONNX complexity) → route → per candidate: cache (placement) → execute, a failure noted
by the monitor's `attempt_failed` → the monitor's record, queued for the region.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from mecroute.adapters.breaker_store import MemoryBreakerStore
from mecroute.adapters.memory import MemoryNodes, MemoryRegistry, MemoryStats
from mecroute.agents import cache, context, execute, monitor, router
from mecroute.agents.breakers import Breakers
from mecroute.agents.context import ComplexityScorer
from mecroute.agents.guards import Guards, guarded_execute
from mecroute.agents.spend import Spend
from mecroute.domain import tasks as states
from mecroute.domain.errors import IdempotencyKeyReused, InvalidRequest
from mecroute.domain.events import OutcomeEvent, RequestFailedEvent
from mecroute.domain.messages import (
    ContextAnalysis,
    MonitorRecord,
    RoutingDecision,
)
from mecroute.domain.request import CriterionWeights
from mecroute.gateway.queue import QueueFull, RecordQueue
from mecroute.gateway.settlements import DeferredSettlements, EdgeShipment
from mecroute.gateway.snapshot import Snapshot, SnapshotKeeper

RECENT_DECISIONS = 10_000


@dataclass(frozen=True)
class Outcome:
    """What the caller gets: the record (the regional API's answer body) or a named error."""

    record: MonitorRecord | None
    error: str | None = None
    cause: str | None = None
    stale: bool = False
    execute_ms: float = 0.0  # wall time in the tiers (every attempt): not the gateway's own


class LocalHistory:
    """The caller's requests through this gateway in the last hour (the context agent's history
    port), kept in memory: the request path never waits on the region."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, deque[float]] = {}

    def note(self, user_id: str, at: float) -> None:
        with self._lock:
            self._times.setdefault(user_id, deque()).append(at)

    def recent_count(self, user_id: str, since: float) -> int:
        with self._lock:
            times = self._times.get(user_id)
            while times and times[0] < since:
                times.popleft()
            return len(times or ())

    def put(self, record: MonitorRecord) -> None:
        self.note(record.user_id, record.recorded_at)

    def get(self, request_id: str) -> MonitorRecord | None:
        return None


class RecentDecisions:
    """This gateway's recent records, for GET /v1/decisions/{id} at the site."""

    def __init__(self, size: int = RECENT_DECISIONS) -> None:
        self._lock = threading.Lock()
        self._records: OrderedDict[str, MonitorRecord] = OrderedDict()
        self.size = size

    def put(self, record: MonitorRecord) -> None:
        with self._lock:
            self._records[record.request_id] = record
            while len(self._records) > self.size:
                self._records.popitem(last=False)

    def get(self, request_id: str) -> MonitorRecord | None:
        with self._lock:
            return self._records.get(request_id)


class GatewayPipeline:
    def __init__(
        self,
        keeper: SnapshotKeeper,
        tiers: execute.Tiers,
        queue: RecordQueue,
        weights: CriterionWeights,
        scorer: ComplexityScorer | None,
        breakers: Breakers | None = None,
        spend: Spend | None = None,
    ) -> None:
        self.keeper = keeper
        # The site's own breakers, in memory: the request path never waits on the region.
        self.breakers = breakers or Breakers(MemoryBreakerStore())
        # Callers' budgets are shared with the region (its usage table): a budgeted caller's
        # request reads it and reserves in it; a paid answer's cost is counted in it by the
        # shipper, from the request's shipment. None: budgets are not kept here.
        self.settlements: DeferredSettlements | None = None
        if spend is not None:
            self.settlements = DeferredSettlements(spend.ledger)
            spend = replace(spend, ledger=self.settlements)
        self.spend = spend
        self.guards = Guards(breakers=self.breakers, spend=spend)
        self.tiers = tiers
        self.queue = queue
        self.weights = weights
        self.scorer = scorer
        self.history = LocalHistory()
        self.recent = RecentDecisions()

    # -- the states ------------------------------------------------------------------------

    def analyze(self, request_id: str, raw: Any, now: float) -> ContextAnalysis:
        return context.analyze(request_id, raw, self.history, now, self.scorer)

    def decide(self, analysis: ContextAnalysis, snapshot: Snapshot) -> RoutingDecision:
        resources = snapshot.resources
        not_closed = self.breakers.not_closed()
        if not_closed:
            resources = resources.model_copy(update={"breakers": not_closed})
        budget = self.spend.caller_budget(analysis.request.user_id) if self.spend else None
        if budget is not None:
            resources = resources.model_copy(update={"caller_budget": budget})
        return router.route(analysis, resources, self.weights)

    def handle(self, request_id: str, raw: Any, arrived_at: float | None = None) -> Outcome:
        """`arrived_at`: when the request reached the gateway (its `timing` starts there, as
        the regional path's starts at the execution's start)."""
        now = time.time()
        arrived = _stamp(arrived_at or now)
        snapshot = self.keeper.current
        try:
            analysis = self.analyze(request_id, raw, now)
        except InvalidRequest as error:
            return self._rejected(request_id, "rejected", error, snapshot.stale)
        decision = self.decide(analysis, snapshot)
        if decision.primary is None:
            return self._failed(
                decision.error or "NoFeasibleRoute", analysis, decision, [], snapshot
            )
        attempts = states.Attempts(index=0, count=len(decision.candidates))
        registry = MemoryRegistry(list(snapshot.resources.models))
        directory = MemoryNodes(list(snapshot.records))
        stats = MemoryStats(list(snapshot.resources.stats))
        executing_s = 0.0
        for target in decision.candidates:
            started = _stamp()
            clock = 0.0
            try:
                plan = cache.prepare(
                    analysis,
                    target,
                    registry,
                    self.tiers.nodes,
                    self.tiers.responses,
                    time.time(),
                    directory,
                    stats,
                )
                clock = time.perf_counter()
                result = guarded_execute(
                    self.guards, analysis, target, plan, self.tiers, time.time()
                )
                executing_s += time.perf_counter() - clock
            except IdempotencyKeyReused as error:
                return self._rejected(request_id, "errored", error, snapshot.stale)
            except Exception as error:  # the ASL's Catch on States.ALL: next candidate
                executing_s += time.perf_counter() - clock if clock else 0.0
                attempts = monitor.attempt_failed(
                    states.AttemptFailedTask(
                        action="attempt_failed",
                        request_id=request_id,
                        target=target,
                        error=_sfn_error(error),
                        attempts=attempts,
                        started_at=started,
                        failed_at=_stamp(),
                    ),
                    time.time(),
                )
                continue
            task = states.SucceededTask(
                action="succeeded",
                request=states.RequestSummary.of(analysis),
                decision=decision,
                result=result,
                failures=attempts.failures,
                started_at=arrived,
                finished_at=_stamp(),
                tiers_wall_ms=executing_s * 1000,
            )
            record = self._record(task, analysis)
            return Outcome(record, stale=snapshot.stale, execute_ms=executing_s * 1000)
        return self._failed("NoTierAvailable", analysis, decision, attempts.failures, snapshot)

    # -- records -----------------------------------------------------------------------------

    def _failed(
        self,
        error: str,
        analysis: ContextAnalysis,
        decision: RoutingDecision,
        failures: list[Any],
        snapshot: Snapshot,
    ) -> Outcome:
        task = states.FailedTask(
            action="failed",
            error=error,
            request=states.RequestSummary.of(analysis),
            decision=decision,
            failures=failures,
        )
        record = self._record(task, analysis)
        cause = json.dumps({"errorType": error, "errorMessage": record.error_detail or error})
        return Outcome(record, error, cause, snapshot.stale)

    def _rejected(self, request_id: str, action: str, error: Exception, stale: bool) -> Outcome:
        failure = _sfn_error(error)
        task = states.RejectedTask(action=action, request_id=request_id, error=failure)
        self._record(task, None)
        return Outcome(None, failure.Error, failure.Cause, stale)

    def _record(
        self,
        task: states.SucceededTask | states.FailedTask | states.RejectedTask,
        analysis: ContextAnalysis | None,
    ) -> MonitorRecord:
        record = monitor.build_record(task, time.time())
        events = [_on_edge(event) for event in monitor.events_for(record)]
        shipped = for_region(record, analysis)
        message = EdgeShipment(
            request_id=record.request_id,
            record=shipped,
            events=events,
            reason="edge gateway",
            settlements=self.settlements.taken() if self.settlements else [],
        )
        try:
            self.queue.put(message.model_dump_json())
        except QueueFull:  # the caller is refused; what the tier was paid is still counted
            if self.settlements:
                for settlement in message.settlements:
                    settlement.apply(self.settlements.ledger)
            raise
        self.recent.put(record)
        self.history.put(record)
        if record.timing is not None and not record.failures:
            # Failed attempts' time would count as overhead: learn from clean requests only.
            self.keeper.note_overhead(record.timing.routing_overhead_ms)
        return record


def for_region(record: MonitorRecord, analysis: ContextAnalysis | None) -> MonitorRecord:
    """A strict request's text never leaves the site: its record carries the answer's hash."""
    if analysis is None or analysis.effective_privacy != "strict" or record.result is None:
        return record
    digest = hashlib.sha256(record.result.output.encode()).hexdigest()
    result = record.result.model_copy(update={"output": f"sha256:{digest}"})
    return record.model_copy(update={"result": result})


def _on_edge(event: OutcomeEvent | RequestFailedEvent) -> OutcomeEvent | RequestFailedEvent:
    """Marks an outcome as decided here, so its overhead is learned as the edge path's."""
    if isinstance(event, OutcomeEvent):
        return event.model_copy(update={"routing_path": "edge"})
    return event


def _sfn_error(error: Exception) -> states.StepFunctionsError:
    """The error as a Catch would see it: the exception's class name and Lambda's cause JSON."""
    name = type(error).__name__
    cause = json.dumps({"errorType": name, "errorMessage": str(error)})
    return states.StepFunctionsError(Error=name, Cause=cause)


def _stamp(at: float | None = None) -> str:
    """A state timestamp as the monitor reads `$$.State.EnteredTime` (ISO 8601 UTC), to the
    microsecond: the gateway's own time is a few milliseconds."""
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).isoformat()
