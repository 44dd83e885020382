"""The gateway's configuration: the regional tables, stream and bucket it reads and writes, from
the environment the agents use (MODELS_TABLE, ...), plus its own snapshot and queue knobs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from mecroute.lambda_support.settings import AgentSettings, RouterSettings


class GatewaySettings(AgentSettings):
    models_table: str
    nodes_table: str
    stats_table: str
    decisions_table: str
    metrics_stream: str
    artifacts_bucket: str
    cloud_provider: Literal["bedrock", "simulator"] = "simulator"
    cloud_region: str = Field(default_factory=lambda: os.environ.get("AWS_REGION", "us-east-1"))
    bedrock_model_id: str = "anthropic.claude-3-haiku-20240307-v1:0"
    # Offline: where the cloud simulator's Converse service listens (mecroute.local.cloud_service),
    # reached through a real bedrock-runtime client; unset: the simulator runs in this process.
    cloud_simulator_url: str | None = None
    cloud_backhaul_ms: float = Field(default=60.0, ge=0)
    response_ttl_s: float = Field(default=600.0, ge=0)
    heartbeat_timeout_s: float = Field(default=30.0, gt=0)
    # Refresh of the region's tables (jittered ±20%); never on the request path.
    snapshot_interval_s: float = Field(default=5.0, gt=0)
    # Records waiting for the region: past this many the gateway refuses new work (503)
    # rather than lose a record.
    queue_limit: int = Field(default=100_000, ge=1)
    # Where the queue's file lives: a volume that outlives the process (QUEUE_DIR).
    queue_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()))
    # Threads running the pipeline (PIPELINE_THREADS): it blocks on node calls and the queue's
    # commit, and is otherwise Python under one GIL, so a few suffice.
    pipeline_threads: int = Field(default=8, ge=1, le=64)
    # A table of API key hashes (key_sha256 -> user_id); unset: callers are anonymous.
    api_keys_table: str | None = None
    # Or a file of the same items (mecroute.gateway.auth.KeyFile): `mecroute serve --api-keys`.
    api_keys_file: Path | None = None
    # Each verified caller's token bucket (gateway/limits.py), per gateway process: the regional
    # usage plan's defaults (cdk.json api_rate_limit, api_burst_limit).
    caller_rate_per_s: float = Field(default=50.0, gt=0)
    caller_burst: int = Field(default=100, ge=1)
    # The region's usage table: callers' budgets hold at the edge too; unset: not kept here.
    usage_table: str | None = None
    router: RouterSettings = Field(default_factory=RouterSettings.from_env)
