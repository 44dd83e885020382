"""The learning loop's consumer: applies outcome events from the metrics stream to the stats
table. The arithmetic is `mecroute.agents.learning.fold`; this module makes the consumer safe
against the stream's two habits: concurrent consumers (one per shard: read, fold, write unless
someone else wrote first, retry) and redelivery (Kinesis delivers at least once: each learned
figure remembers the ids of the last events folded into it and folds none of them twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from mecroute.adapters.ports import StatsWriter
from mecroute.agents.learning import fold, fold_feedback, fold_routing_overhead, stat_key
from mecroute.domain.breaker import counts_against_place
from mecroute.domain.estimates import RoutingOverhead, RoutingPath
from mecroute.domain.events import AnyStreamEvent, FeedbackEvent, OutcomeEvent
from mecroute.domain.messages import TierStat

MAX_WRITE_ATTEMPTS = 5
# A redelivery comes soon after the original: a producer's retried PutRecords, or a batch of
# at most 100 records (infra/streaming.py) retried after a failure. Each learned figure keeps
# this many of its latest event ids, well over a batch, a few kilobytes per item.
RECENT_EVENTS_KEPT = 256

Learned = TypeVar("Learned", TierStat, RoutingOverhead)


class StatConflict(RuntimeError):
    """Concurrent writers kept moving the statistic on; the stream retries the record."""


def apply(event: AnyStreamEvent, store: StatsWriter) -> TierStat | None:
    """Apply one stream event: outcomes teach latency and success, caller feedback teaches
    answer quality. Replays, failures, rejections and redelivered events carry nothing new
    to learn: skipped (None), and so is an attempt an open circuit breaker refused (the place
    was not even called)."""
    if (
        isinstance(event, OutcomeEvent)
        and event.kind == "outcome"
        and counts_against_place(event.error)
    ):
        if event.routing_overhead_ms is not None and event.fallbacks == 0:
            # Failed attempts' time would count as overhead: learn from clean requests only.
            learn_overhead(event.routing_overhead_ms, store, event.event_id, event.routing_path)
        key = stat_key(event.tier, event.node_id, event.model_id)
        return _update(key, lambda current: fold(current, event), store, event.event_id)
    if isinstance(event, FeedbackEvent) and event.tier and event.model_id:
        key = stat_key(event.tier, event.node_id, event.model_id)
        return _update(
            key, lambda current: fold_feedback(current, event), store, feedback_event_id(event)
        )
    return None


def feedback_event_id(event: FeedbackEvent) -> str:
    """Feedback events carry no id of their own; a redelivered one repeats every field, its
    publication time included, so these identify it."""
    return f"feedback:{event.request_id}:{event.user_id}:{event.at!r}"


def learn_overhead(
    overhead_ms: float, store: StatsWriter, event_id: str, path: RoutingPath = "regional"
) -> RoutingOverhead | None:
    """Fold one recorded routing overhead into the path's learned figure, once per event."""
    return _fold_once(
        event_id,
        lambda: store.get_overhead(path),
        lambda current: fold_routing_overhead(current, path, overhead_ms),
        lambda updated, current: store.put_overhead_if_unchanged(
            updated, current.samples if current else None
        ),
        f"{path} overhead",
    )


def _update(
    key: str, learn: Callable[[TierStat | None], TierStat], store: StatsWriter, event_id: str
) -> TierStat | None:
    return _fold_once(
        event_id,
        lambda: store.get(key),
        learn,
        lambda updated, current: store.put_if_unchanged(
            key, updated, current.revision if current else None
        ),
        key,
    )


def _fold_once(
    event_id: str,
    read: Callable[[], Learned | None],
    learn: Callable[[Learned | None], Learned],
    write: Callable[[Learned, Learned | None], bool],
    what: str,
) -> Learned | None:
    """Read, fold, write unless someone else wrote first; None when the event was already
    folded in (the duplicate is found on the item it would change, in the same read)."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = read()
        seen: tuple[str, ...] = current.recent_events if current is not None else ()
        if event_id in seen:
            return None
        remembered = (*seen, event_id)[-RECENT_EVENTS_KEPT:]
        updated = learn(current).model_copy(update={"recent_events": remembered})
        if write(updated, current):
            return updated
    raise StatConflict(f"{what}: still contended after {MAX_WRITE_ATTEMPTS} attempts")
