"""The learning loop's consumer: applies outcome events from the metrics stream to the stats
table. The arithmetic is `mecroute.agents.learning.fold`; this module only makes concurrent
consumers (one per shard) safe: read, fold, write unless someone else wrote first, retry.
"""

from __future__ import annotations

from typing import Any

from mecroute.adapters.ports import StatsWriter
from mecroute.agents.learning import fold, fold_feedback, stat_key
from mecroute.domain.messages import TierStat

MAX_WRITE_ATTEMPTS = 5


class StatConflict(RuntimeError):
    """Concurrent writers kept moving the statistic on; the stream retries the record."""


def apply(event: dict[str, Any], store: StatsWriter) -> TierStat | None:
    """Apply one stream event: outcomes teach latency and success, caller feedback teaches
    answer quality. Failures and rejections carry no place to learn about: skipped."""
    kind = event.get("kind")
    if kind == "outcome":
        learn = fold
    elif kind == "feedback" and event.get("tier") and event.get("model_id"):
        learn = fold_feedback
    else:
        return None
    key = stat_key(event["tier"], event.get("node_id"), event["model_id"])
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = store.get(key)
        updated = learn(current, event)
        if store.put_if_unchanged(key, updated, current.revision if current else None):
            return updated
    raise StatConflict(f"{key}: still contended after {MAX_WRITE_ATTEMPTS} attempts")
