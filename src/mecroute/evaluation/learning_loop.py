"""The learning loop as the router sees it in production: outcome events reach the statistics
table after the stream's batching lag, and agents re-read the table every few seconds."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mecroute.agents.learning import fold, fold_feedback, fold_routing_overhead
from mecroute.domain.estimates import RoutingOverhead, RoutingPath, routing_overhead
from mecroute.domain.events import FeedbackEvent, OutcomeEvent
from mecroute.domain.messages import TierStat

# Kinesis -> aggregator Lambda: the event source's batching window plus the aggregator's
# DynamoDB write; a lognormal with a 2 s median and a 6 s p95 (assumption: a 1-5 s window).
STREAM_LAG_MEDIAN_S = 2.0
STREAM_LAG_P95_S = 6.0
# Warm agents reuse the statistics they read for 5 s (the platform commit 88eaaf4).
TABLE_REFRESH_S = 5.0
# A share of callers reports whether the answer was right, some time after reading it.
FEEDBACK_SHARE = 0.1
FEEDBACK_DELAY_S = 30.0


@dataclass(order=True)
class _Pending:
    written_at: float
    sequence: int
    kind: str = field(compare=False)
    event: dict[str, Any] = field(compare=False)


class DelayedLearning:
    """Collects outcome and feedback events; `view(now)` is the table as an agent reads it."""

    def __init__(self, rng: np.random.Generator, refresh_s: float = TABLE_REFRESH_S) -> None:
        self._rng = rng
        self._refresh_s = refresh_s
        self._pending: list[_Pending] = []
        self._table: dict[tuple[str, str, str], TierStat] = {}
        self._sequence = 0
        self._read_at = -math.inf
        self._view: list[TierStat] = []
        self._overheads: dict[RoutingPath, RoutingOverhead] = {}
        self._sigma = math.log(STREAM_LAG_P95_S / STREAM_LAG_MEDIAN_S) / 1.645

    def record(self, now_s: float, event: dict[str, Any], correct: bool | None = None) -> None:
        """An outcome event at `now_s`; with `correct`, the caller may also send feedback."""
        lag = STREAM_LAG_MEDIAN_S * math.exp(self._sigma * self._rng.standard_normal())
        self._push(now_s + lag, "outcome", event)
        if correct is not None and event["success"] and self._rng.random() < FEEDBACK_SHARE:
            delay = float(self._rng.exponential(FEEDBACK_DELAY_S))
            self._push(now_s + delay, "feedback", {**event, "correct": correct})

    def record_overhead(self, now_s: float, path: RoutingPath, overhead_ms: float) -> None:
        """A request's recorded routing overhead (the states' or the gateway's own time)."""
        lag = STREAM_LAG_MEDIAN_S * math.exp(self._sigma * self._rng.standard_normal())
        self._push(now_s + lag, "overhead", {"path": path, "overhead_ms": overhead_ms})

    def view(self, now_s: float) -> list[TierStat]:
        self._refresh(now_s)
        return self._view

    def overhead(self, now_s: float, path: RoutingPath) -> RoutingOverhead:
        """The path's overhead as the router reads it: learned past the floor, else the prior."""
        self._refresh(now_s)
        return routing_overhead(path, self._overheads.get(path))

    def _refresh(self, now_s: float) -> None:
        read_at = math.floor(now_s / self._refresh_s) * self._refresh_s
        if read_at <= self._read_at:
            return
        self._read_at = read_at
        while self._pending and self._pending[0].written_at <= read_at:
            item = heapq.heappop(self._pending)
            if item.kind == "overhead":
                path = item.event["path"]
                self._overheads[path] = fold_routing_overhead(
                    self._overheads.get(path), path, item.event["overhead_ms"]
                )
                continue
            key = (item.event["tier"], item.event["node_id"], item.event["model_id"])
            self._table[key] = _learn(self._table.get(key), item)
        self._view = list(self._table.values())

    def _push(self, written_at: float, kind: str, event: dict[str, Any]) -> None:
        self._sequence += 1
        heapq.heappush(self._pending, _Pending(written_at, self._sequence, kind, event))


def _learn(stat: TierStat | None, item: _Pending) -> TierStat:
    """Fold one pending item as the aggregator folds the stream event it would be."""
    event, at = item.event, item.written_at
    place = {"tier": event["tier"], "node_id": event["node_id"], "model_id": event["model_id"]}
    if item.kind == "outcome":
        outcome = OutcomeEvent(
            event_id=f"sim:{item.sequence}",
            request_id=f"sim-{item.sequence}",
            success=event["success"],
            latency_ms=event["latency_ms"],
            at=at,
            **place,
        )
        return fold(stat, outcome)
    correct = bool(event["correct"])
    feedback = FeedbackEvent(
        request_id=f"sim-{item.sequence}",
        user_id="sim",
        rating=5 if correct else 1,
        correct=correct,
        observed_latency_ms=None,
        at=at,
        **place,
    )
    return fold_feedback(stat, feedback)
