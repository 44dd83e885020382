"""The learning loop's consumer: applies outcome events from the metrics stream to the stats
table. The arithmetic is `mecroute.agents.learning.fold`; this module only makes concurrent
consumers (one per shard) safe: read, fold, write unless someone else wrote first, retry.
"""

from __future__ import annotations

from typing import Any

from mecroute.adapters.ports import StatsWriter
from mecroute.agents.learning import fold, stat_key
from mecroute.domain.messages import TierStat

MAX_WRITE_ATTEMPTS = 5


class StatConflict(RuntimeError):
    """Concurrent writers kept moving the statistic on; the stream retries the record."""


def apply(event: dict[str, Any], store: StatsWriter) -> TierStat | None:
    """Apply one stream event. Only outcomes teach latency and success for now; failures,
    rejections and feedback are acknowledged and skipped."""
    if event.get("kind") != "outcome":
        return None
    key = stat_key(event["tier"], event.get("node_id"), event["model_id"])
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = store.get(key)
        updated = fold(current, event)
        if store.put_if_unchanged(key, updated, current.samples if current else None):
            return updated
    raise StatConflict(f"{key}: still contended after {MAX_WRITE_ATTEMPTS} attempts")
