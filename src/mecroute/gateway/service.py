"""Assembles one site's gateway from the environment: the snapshot keeper over the regional
stores, the agents' tiers, the on-disk record queue and its shipper, and the HTTP app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
from starlette.applications import Starlette

from mecroute.adapters.aws import BEDROCK_CONFIG, client
from mecroute.adapters.cloud import BedrockCloud, CloudSimulator, LocalBedrockRuntime
from mecroute.adapters.dynamodb import DynamoModelRegistry, DynamoNodeDirectory, DynamoStatsStore
from mecroute.adapters.mec_http import HttpMecNodes
from mecroute.adapters.memory import MemoryResponseCache
from mecroute.adapters.onnx_engine import TIER_THREADS
from mecroute.adapters.ports import CloudModel
from mecroute.adapters.streams import S3ArtifactStore
from mecroute.adapters.verified_models import VerifiedModels
from mecroute.agents.execute import Tiers
from mecroute.agents.spend import Spend
from mecroute.complexity.model import shipped
from mecroute.domain.messages import CloudStatus
from mecroute.domain.request import CriterionWeights
from mecroute.domain.spend import load_tenants
from mecroute.gateway.app import gateway_app
from mecroute.gateway.auth import api_keys
from mecroute.gateway.limits import CallerLimits, Limit
from mecroute.gateway.pipeline import GatewayPipeline
from mecroute.gateway.queue import RecordQueue
from mecroute.gateway.settings import GatewaySettings
from mecroute.gateway.shipper import Shipper, ShipperProcess, usage_ledger
from mecroute.gateway.snapshot import Region, SnapshotKeeper, SnapshotRegistry


@dataclass
class Gateway:
    site: str
    app: Starlette
    pipeline: GatewayPipeline
    keeper: SnapshotKeeper
    shipper: Shipper
    queue: RecordQueue
    executor: ThreadPoolExecutor
    shipping: ShipperProcess | None = None

    def start(self, shipper_process: bool = False) -> Gateway:
        """`shipper_process`: ship records from a process of their own (`mecroute gateway`,
        as deployed), not a thread of this one."""
        self.keeper.start()
        if shipper_process:
            self.shipping = ShipperProcess(self.queue.path).start()
        else:
            self.shipper.start()
        return self

    def stop(self) -> None:
        self.executor.shutdown()
        self.keeper.stop()
        if self.shipping is not None:
            self.shipping.stop()
        else:
            self.shipper.stop()
        self.queue.close()


def build_gateway(site: str, settings: GatewaySettings | None = None) -> Gateway:
    settings = settings or GatewaySettings.from_env()
    nodes = HttpMecNodes()
    region = Region(
        registry=DynamoModelRegistry(settings.models_table),
        directory=DynamoNodeDirectory(settings.nodes_table),
        stats=DynamoStatsStore(settings.stats_table),
        api_keys=api_keys(settings.api_keys_table, settings.api_keys_file),
    )
    cloud_status = CloudStatus(
        available=True,
        provider=settings.cloud_provider,
        region=settings.cloud_region,
        backhaul_rtt_ms=settings.cloud_backhaul_ms,
    )
    keeper = SnapshotKeeper(
        site,
        region,
        nodes,
        cloud_status,
        settings.heartbeat_timeout_s,
        settings.snapshot_interval_s,
    )
    registry = SnapshotRegistry(keeper)
    artifacts = S3ArtifactStore(settings.artifacts_bucket)
    cloud = _cloud(settings, registry, artifacts)
    usage = usage_ledger(settings.usage_table)
    queue = RecordQueue(
        Path(settings.queue_dir) / f"mecroute-gateway-{site}.sqlite", settings.queue_limit
    )
    pipeline = GatewayPipeline(
        keeper,
        Tiers(
            registry=registry,
            nodes=nodes,
            cloud=cloud,
            local_models=VerifiedModels(artifacts, threads=TIER_THREADS["device"]),
            responses=MemoryResponseCache(),  # the site's own: no region call on the path
            cloud_backhaul_ms=settings.cloud_backhaul_ms,
            response_ttl_s=settings.response_ttl_s,
        ),
        queue,
        _weights(settings),
        shipped(),
        spend=Spend(usage, load_tenants()) if usage else None,
    )
    shipper = Shipper(queue, settings.decisions_table, settings.metrics_stream, usage)
    # The pipeline blocks (node calls, the queue's commit) and is mostly Python under one GIL:
    # a few threads keep the cores busy; more only queue for the GIL and stretch every answer.
    executor = ThreadPoolExecutor(settings.pipeline_threads, thread_name_prefix="pipeline")
    return Gateway(
        site,
        gateway_app(
            site,
            pipeline,
            executor,
            CallerLimits(Limit(settings.caller_rate_per_s, settings.caller_burst)),
        ),
        pipeline,
        keeper,
        shipper,
        queue,
        executor,
    )


def _cloud(
    settings: GatewaySettings, registry: SnapshotRegistry, artifacts: S3ArtifactStore
) -> CloudModel:
    """Bedrock; offline its simulator, as a service of its own when one is given (as Bedrock,
    its inference is not this process's CPU), else in this process."""
    if settings.cloud_provider == "bedrock":
        return BedrockCloud(client("bedrock-runtime", BEDROCK_CONFIG), settings.bedrock_model_id)
    if settings.cloud_simulator_url:
        simulator = boto3.client(
            "bedrock-runtime", endpoint_url=settings.cloud_simulator_url, config=BEDROCK_CONFIG
        )
        return BedrockCloud(simulator, None)
    models = VerifiedModels(artifacts, threads=TIER_THREADS["cloud"])
    return CloudSimulator(LocalBedrockRuntime(registry, models))


def _weights(settings: GatewaySettings) -> CriterionWeights:
    r = settings.router
    return CriterionWeights(
        latency=r.weight_latency, accuracy=r.weight_accuracy, cost=r.weight_cost,
        availability=r.weight_availability,
    )  # fmt: skip
