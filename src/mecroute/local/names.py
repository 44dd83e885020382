"""Names of the offline AWS resources, read by the runtime that serves them and by the seed
that creates them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    """Resource names; the CDK stack passes its own through the same environment variables."""

    models_table: str = "mecroute-models"
    nodes_table: str = "mecroute-nodes"
    decisions_table: str = "mecroute-decisions"
    stats_table: str = "mecroute-stats"
    cache_table: str = "mecroute-response-cache"
    idempotency_table: str = "mecroute-idempotency"
    artifacts_bucket: str = "mecroute-artifacts"
    metrics_stream: str = "mecroute-metrics"
    record_dead_letters: str = "mecroute-record-dead-letters"
    state_machine: str = "mecroute-inference-pipeline"

    def environment(self) -> dict[str, str]:
        """MODELS_TABLE=..., one variable per table, bucket and stream the settings read."""
        return {
            name.upper(): value
            for name, value in dataclasses.asdict(self).items()
            if name.endswith(("_table", "_bucket", "_stream"))
        }
