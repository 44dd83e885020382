"""Handlers against moto in-process: environment, AWS resources, the zoo and handler loading."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from mecroute.adapters.aws import client, reset_clients
from mecroute.domain.registry import ModelSpec
from mecroute.local.lambdas import FakeLambdaContext, Handler, load_handler
from mecroute.local.names import MOTO_CREDENTIAL, NOT_FOR_MOCKED_HANDLERS, Names
from mecroute.local.seed import create_resources
from mecroute.mec.zoo import build_zoo

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = REPO_ROOT / "lambdas"
EVENTS_DIR = REPO_ROOT / "tests" / "events"
REGION = "us-east-1"


@contextlib.contextmanager
def one_table(monkeypatch: pytest.MonkeyPatch, table_name: str, hash_key: str) -> Iterator[None]:
    """moto's in-process mock holding one on-demand table keyed by the string `hash_key`."""
    for name, value in Names().moto_environment(REGION).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SESSION_TOKEN", MOTO_CREDENTIAL)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_clients()
    with mock_aws():
        client("dynamodb").create_table(
            TableName=table_name,
            KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
    reset_clients()


@dataclass(frozen=True)
class Aws:
    names: Names
    specs: dict[str, ModelSpec]


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ONNX zoo, built once per session (create_resources reuses what is already there)."""
    directory = tmp_path_factory.mktemp("zoo")
    build_zoo(directory)
    return directory


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, zoo_dir: Path) -> Iterator[Aws]:
    names = Names()
    for name, value in names.handler_environment(REGION, log_level="WARNING").items():
        monkeypatch.setenv(name, value)
    for name in NOT_FOR_MOCKED_HANDLERS:
        monkeypatch.delenv(name, raising=False)
    reset_clients()
    with mock_aws():
        specs = create_resources(names, zoo_dir)
        yield Aws(names=names, specs={spec.model_id: spec for spec in specs})
    reset_clients()


@pytest.fixture
def load(aws: Aws) -> Callable[[str], Handler]:
    """Import an agent's handler now, after the environment is set (settings load at import)."""
    return lambda agent: load_handler(LAMBDAS_DIR, agent)


@pytest.fixture
def invoke(load: Callable[[str], Handler]) -> Callable[[str, dict[str, Any]], Any]:
    """Call an agent's handler the way Lambda does and round-trip its answer through JSON."""

    def call(agent: str, event: dict[str, Any]) -> Any:
        handler = load(agent)
        payload = handler(event, FakeLambdaContext(function_name=f"mecroute-{agent}"))
        return json.loads(json.dumps(payload))

    return call


@pytest.fixture
def sample_event() -> Callable[[str], dict[str, Any]]:
    """A sample state input from tests/events, as the state machine would hand it over."""

    def read(name: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        if "received_at" in loaded.get("context", {}):
            # A request that has just arrived: its deadline (arrival + SLA) is still ahead.
            loaded["context"]["received_at"] = time.time()
        return loaded

    return read
