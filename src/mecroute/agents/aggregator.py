"""The learning loop's consumer: applies outcome events from the metrics stream to the stats
table. The arithmetic is `mecroute.agents.learning.fold`; this module only makes concurrent
consumers (one per shard) safe: read, fold, write unless someone else wrote first, retry.
"""

from __future__ import annotations

from collections.abc import Callable

from mecroute.adapters.ports import StatsWriter
from mecroute.agents.learning import fold, fold_feedback, fold_routing_overhead, stat_key
from mecroute.domain.estimates import RoutingPath
from mecroute.domain.events import AnyStreamEvent, FeedbackEvent, OutcomeEvent
from mecroute.domain.messages import TierStat

MAX_WRITE_ATTEMPTS = 5


class StatConflict(RuntimeError):
    """Concurrent writers kept moving the statistic on; the stream retries the record."""


def apply(event: AnyStreamEvent, store: StatsWriter) -> TierStat | None:
    """Apply one stream event: outcomes teach latency and success, caller feedback teaches
    answer quality. Replays, failures and rejections carry nothing to learn: skipped."""
    if isinstance(event, OutcomeEvent) and event.kind == "outcome":
        if event.routing_overhead_ms is not None and event.fallbacks == 0:
            # Failed attempts' time would count as overhead: learn from clean requests only.
            learn_overhead(event.routing_overhead_ms, store)
        key = stat_key(event.tier, event.node_id, event.model_id)
        return _update(key, lambda current: fold(current, event), store)
    if isinstance(event, FeedbackEvent) and event.tier and event.model_id:
        key = stat_key(event.tier, event.node_id, event.model_id)
        return _update(key, lambda current: fold_feedback(current, event), store)
    return None


def learn_overhead(overhead_ms: float, store: StatsWriter, path: RoutingPath = "regional") -> None:
    """Fold one recorded routing overhead into the path's learned figure (same optimistic
    write as the statistics: read, fold, write unless someone else wrote first)."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = store.get_overhead(path)
        updated = fold_routing_overhead(current, path, overhead_ms)
        if store.put_overhead_if_unchanged(updated, current.samples if current else None):
            return
    raise StatConflict(f"{path} overhead: still contended after {MAX_WRITE_ATTEMPTS} attempts")


def _update(key: str, learn: Callable[[TierStat | None], TierStat], store: StatsWriter) -> TierStat:
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = store.get(key)
        updated = learn(current)
        if store.put_if_unchanged(key, updated, current.revision if current else None):
            return updated
    raise StatConflict(f"{key}: still contended after {MAX_WRITE_ATTEMPTS} attempts")
