"""The learning loop's consumer: applies outcome events from the metrics stream to the stats
table. The arithmetic is `mecroute.agents.learning.fold`; this module only makes concurrent
consumers (one per shard) safe: read, fold, write unless someone else wrote first, retry.
"""

from __future__ import annotations

from collections.abc import Callable

from mecroute.adapters.ports import StatsWriter
from mecroute.agents.learning import fold, fold_feedback, stat_key
from mecroute.domain.events import AnyStreamEvent, FeedbackEvent, OutcomeEvent
from mecroute.domain.messages import TierStat

MAX_WRITE_ATTEMPTS = 5


class StatConflict(RuntimeError):
    """Concurrent writers kept moving the statistic on; the stream retries the record."""


def apply(event: AnyStreamEvent, store: StatsWriter) -> TierStat | None:
    """Apply one stream event: outcomes teach latency and success, caller feedback teaches
    answer quality. Replays, failures and rejections carry nothing to learn: skipped."""
    if isinstance(event, OutcomeEvent) and event.kind == "outcome":
        key = stat_key(event.tier, event.node_id, event.model_id)
        return _update(key, lambda current: fold(current, event), store)
    if isinstance(event, FeedbackEvent) and event.tier and event.model_id:
        key = stat_key(event.tier, event.node_id, event.model_id)
        return _update(key, lambda current: fold_feedback(current, event), store)
    return None


def _update(key: str, learn: Callable[[TierStat | None], TierStat], store: StatsWriter) -> TierStat:
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = store.get(key)
        updated = learn(current)
        if store.put_if_unchanged(key, updated, current.revision if current else None):
            return updated
    raise StatConflict(f"{key}: still contended after {MAX_WRITE_ATTEMPTS} attempts")
