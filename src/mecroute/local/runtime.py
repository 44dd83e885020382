"""The offline runtime: moto (Step Functions in this process, which runs the real handlers
in-process; DynamoDB, S3, Kinesis, SQS and Secrets Manager in a process of its own), and MEC
nodes as local processes. The deployed ASL file runs unchanged."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mecroute.domain.registry import NodeRecord
from mecroute.lambda_support.manifest import AGENTS, BY_NAME
from mecroute.local.fleet import (
    DEFAULT_SITES,
    NodeProcess,
    SiteProfile,
    create_site_keys,
    free_port,
    start_nodes,
)
from mecroute.local.handler_processes import quieten
from mecroute.local.lambdas import AsyncTarget, InProcessLambdas, function_arn
from mecroute.local.moto_patches import (
    honour_invocation_type,
    keep_sums_readable,
    make_conditional_writes_atomic,
    speed_up_moto,
    wait_until_finished,
)
from mecroute.local.moto_process import MotoProcess
from mecroute.local.names import Names
from mecroute.local.seed import create_resources

ACCOUNT = "123456789012"
REGION = "us-east-1"
REPO_ROOT = Path(__file__).resolve().parents[3]
ASL_PATH = REPO_ROOT / "statemachines" / "inference_pipeline.asl.json"
ZOO_DIR = REPO_ROOT / "build" / "zoo"
MAX_POLL_PAUSE_S = 0.2
# A wait polls at this share of the time it has already waited (5 % adds at most that much).
POLL_PAUSE_SHARE = 0.05
# Worker processes for the handlers in `mecroute serve` and the bench: with the interpreter in
# this process, two cores' worth of work can run at once.
SERVE_HANDLER_PROCESSES = 2
# moto accepts any credentials; this is the dummy its documentation uses, not a secret.
MOTO_CREDENTIAL = "testing"


@dataclass(frozen=True)
class Run:
    """One execution of the pipeline, as the Step Functions console would show it."""

    execution_arn: str
    request_id: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    states: list[str]
    duration_ms: float
    record: dict[str, Any] | None = None


@dataclass
class OfflineRuntime:
    sites: tuple[SiteProfile, ...] = DEFAULT_SITES
    names: Names = field(default_factory=Names)
    time_scale: float = 1.0
    heartbeat_s: float = 1.0
    verbose: bool = False
    moto_port: int = 0
    # 0: the handlers run in this process, where tests can wrap them to inject faults.
    handler_processes: int = 0
    nodes: list[NodeProcess] = field(default_factory=list)
    lambdas: InProcessLambdas | None = None
    state_machine_arn: str = ""
    data_services: MotoProcess | None = None
    _server: Any = None
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> OfflineRuntime:
        quieten(self.verbose)
        speed_up_moto()
        make_conditional_writes_atomic()
        keep_sums_readable()
        honour_invocation_type()
        try:
            self._start_moto()
            create_resources(self.names, ZOO_DIR)
            # One runtime plays every role offline: callers and nodes read the same key list.
            self._set_env(create_site_keys([site.node_id for site in self.sites]))
            # Workers start now (with the environment complete) and load while the nodes do.
            self.lambdas = (
                InProcessLambdas.in_workers(self.handler_processes, verbose=self.verbose)
                if self.handler_processes
                else InProcessLambdas.from_manifest()
            )
            # Each node registers itself, loads its site's models from S3 (sha256-checked)
            # and heartbeats into the nodes table, exactly as it does on Fargate.
            self.nodes = start_nodes(
                self.sites, self._node_env(), self.time_scale, self.heartbeat_s
            )
            # As infra/pipeline.py configures them: the on-failure queue is the record one.
            self.lambdas.async_targets = {
                name: AsyncTarget(config, self.record_dead_letters_url)
                for name in AGENTS
                if (config := BY_NAME[name].event_invoke) is not None
            }
            self.lambdas.install()
            self.state_machine_arn = self._create_state_machine()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.lambdas is not None:
            self.lambdas.close()  # lets accepted events finish while moto still answers
        for node in self.nodes:
            node.stop()
        self.nodes = []
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.data_services is not None:
            self.data_services.stop()
            self.data_services = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        from mecroute.adapters.aws import reset_clients

        reset_clients()

    def __enter__(self) -> OfflineRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """moto in this process: Step Functions."""
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def data_endpoint_url(self) -> str:
        """moto in its own process: DynamoDB, S3, Kinesis, SQS, Secrets Manager."""
        assert self.data_services is not None
        return self.data_services.url

    # -- requests ---------------------------------------------------------------------------

    def run(
        self,
        request: Any,
        request_id: str | None = None,
        timeout_s: float = 120,
        trace: bool = True,
        arrived_at_ms: int | None = None,
    ) -> Run:
        """Start an execution and wait for it (moto has no StartSyncExecution).

        `trace=False` skips reading back the states the execution passed through (and the
        record of a failed one): the local API answers without them, as API Gateway does.
        """
        from mecroute.adapters.aws import client

        sfn = client("stepfunctions")
        request_id = request_id or str(uuid.uuid4())
        # As API Gateway's mapping template builds it (infra/api_templates.py); without an
        # arrival time the execution's start stands for it.
        pipeline_input: dict[str, Any] = {"request_id": request_id, "request": request}
        if arrived_at_ms is not None:
            pipeline_input["arrived_at_ms"] = arrived_at_ms
        started = time.perf_counter()
        execution_arn = sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=request_id,
            input=json.dumps(pipeline_input),
        )["executionArn"]
        deadline = time.monotonic() + timeout_s
        # Polls below only if moto cannot signal the end (or the wait timed out).
        described = wait_until_finished(execution_arn, timeout_s)
        while described is None:
            polled: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if polled["status"] != "RUNNING":
                described = polled
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {request_id} still running after {timeout_s}s")
            # Poll often while executions are quick, less as they take longer (under load),
            # so that waiting callers do not keep moto busy answering DescribeExecution.
            elapsed_s = time.perf_counter() - started
            time.sleep(min(MAX_POLL_PAUSE_S, 0.005 + POLL_PAUSE_SHARE * elapsed_s))
        duration_ms = (time.perf_counter() - started) * 1000
        output = json.loads(described["output"]) if described.get("output") else None
        return Run(
            record=None if output or not trace else self.decision_record(request_id),
            execution_arn=execution_arn,
            request_id=request_id,
            status=described["status"],
            output=output,
            error=described.get("error"),
            cause=described.get("cause"),
            states=self.states(execution_arn) if trace else [],
            duration_ms=duration_ms,
        )

    def settle(self, timeout_s: float = 30) -> None:
        """Wait for the records stored off the caller's path (RecordOutcome's asynchronous
        events, with their retries and dead letters): call before reading what a run left."""
        if self.lambdas is not None:
            self.lambdas.settle(timeout_s)

    def states(self, execution_arn: str) -> list[str]:
        from mecroute.adapters.aws import client

        events = client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
        return [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]

    def decision_record(self, request_id: str) -> dict[str, Any] | None:
        from mecroute.adapters.dynamodb import DynamoDecisionLog

        self.settle()
        record = DynamoDecisionLog(self.names.decisions_table).get(request_id)
        return record.model_dump(mode="json") if record else None

    def node_records(self) -> list[NodeRecord]:
        from mecroute.adapters.dynamodb import DynamoNodeDirectory

        return DynamoNodeDirectory(self.names.nodes_table).list_nodes()

    def restart_node(self, node_id: str, time_scale: float | None = None) -> NodeProcess:
        """Stop (if still running) and start again the node serving `node_id`'s site: it
        registers its new endpoint and reloads its preloaded models, as a replaced task would.
        A `time_scale` above the runtime's makes it a node that has slowed down."""
        (old,) = (node for node in self.nodes if node.profile.node_id == node_id)
        old.stop()
        scale = self.time_scale if time_scale is None else time_scale
        (new,) = start_nodes((old.profile,), self._node_env(), scale, self.heartbeat_s)
        self.nodes[self.nodes.index(old)] = new
        return new

    @property
    def record_dead_letters_url(self) -> str:
        from mecroute.adapters.queues import SqsQueue

        return SqsQueue.named(self.names.record_dead_letters_queue).queue_url

    # -- internals --------------------------------------------------------------------------

    def _aws_env(self) -> dict[str, str]:
        assert self.data_services is not None
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **self.data_services.endpoints(),
            "AWS_ACCESS_KEY_ID": MOTO_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": MOTO_CREDENTIAL,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def _node_env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self._aws_env(),
            **self.names.environment(),
            "PYTHONUNBUFFERED": "1",
        }

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _start_moto(self) -> None:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        default_user_config["stepfunctions"]["execute_state_machine"] = True
        self.data_services = MotoProcess.start(os.environ | self.names.moto_environment(REGION))
        self.moto_port = self.moto_port or free_port()
        self._set_env(
            {
                **self._aws_env(),
                **self.names.environment(),
                # moto's interpreter sends its SQS tasks (the dead-letter states) to MOTO_PORT.
                "MOTO_PORT": str(self.data_services.port),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "DEBUG" if self.verbose else "CRITICAL",
            }
        )
        from mecroute.adapters.aws import reset_clients

        reset_clients()
        self._server = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.moto_port, verbose=False
        )
        self._server.start()
        # moto's backends live in this process: start from an empty account every time.
        reset = urllib.request.Request(  # noqa: S310 - our own loopback moto server
            f"{self.endpoint_url}/moto-api/reset", method="POST"
        )
        urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310  # nosec B310

    def _create_state_machine(self) -> str:
        from mecroute.adapters.aws import client

        definition = ASL_PATH.read_text()
        for agent in AGENTS:
            placeholder = "${" + agent.capitalize() + "FunctionArn}"
            definition = definition.replace(placeholder, function_arn(agent, REGION, ACCOUNT))
        # The same substitutions CDK makes (infra/pipeline.py).
        definition = definition.replace("${RecordDeadLettersUrl}", self.record_dead_letters_url)
        arn: str = client("stepfunctions").create_state_machine(
            name=self.names.state_machine,
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/mecroute-pipeline",
            type="EXPRESS",
        )["stateMachineArn"]
        return arn
