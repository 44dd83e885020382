"""Names of the offline AWS resources, read by the runtime that serves them and by the seed
that creates them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# moto accepts any credentials; these only keep botocore from looking for real ones.
MOTO_CREDENTIAL = "testing"


@dataclass(frozen=True)
class Names:
    """Resource names; the CDK stack passes its own through the same environment variables."""

    models_table: str = "mecroute-models"
    nodes_table: str = "mecroute-nodes"
    decisions_table: str = "mecroute-decisions"
    stats_table: str = "mecroute-stats"
    cache_table: str = "mecroute-response-cache"
    breakers_table: str = "mecroute-breakers"
    usage_table: str = "mecroute-usage"
    idempotency_table: str = "mecroute-idempotency"
    artifacts_bucket: str = "mecroute-artifacts"
    metrics_stream: str = "mecroute-metrics"
    record_dead_letters_queue: str = "mecroute-record-dead-letters"
    state_machine: str = "mecroute-inference-pipeline"

    def environment(self) -> dict[str, str]:
        """MODELS_TABLE=..., one variable per table, bucket, stream and queue the settings read."""
        return {
            name.upper(): value
            for name, value in dataclasses.asdict(self).items()
            if name.endswith(("_table", "_bucket", "_stream", "_queue"))
        }

    def moto_environment(self, region: str) -> dict[str, str]:
        """The resource variables plus moto's dummy credentials and the region: what a process
        needs to use the offline resources (add AWS_ENDPOINT_URL for a moto server)."""
        return {
            **self.environment(),
            "AWS_ACCESS_KEY_ID": MOTO_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": MOTO_CREDENTIAL,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }

    def handler_environment(self, region: str, log_level: str) -> dict[str, str]:
        """What an agent's handler run in-process on moto's mock needs beside
        `moto_environment`: a session token, powertools' names, the tracer off (X-Ray needs
        the Lambda service's trace header) and the log level."""
        return {
            **self.moto_environment(region),
            "AWS_SESSION_TOKEN": MOTO_CREDENTIAL,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "mecroute",
            "POWERTOOLS_METRICS_NAMESPACE": "MecRoute",
            "POWERTOOLS_LOG_LEVEL": log_level,
        }


# What a process on moto's in-process mock must not inherit: a moto server's endpoint, a real
# profile, and powertools' switches that would hide what the handlers emit.
NOT_FOR_MOCKED_HANDLERS = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "POWERTOOLS_METRICS_DISABLED",
    "POWERTOOLS_DEV",
)
