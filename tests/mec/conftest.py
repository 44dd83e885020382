"""MEC node fixtures: moto (S3, DynamoDB) in-process, and real `mecroute node` processes on
127.0.0.1 started the way the offline runtime starts them."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mecroute.adapters.aws import reset_clients
from mecroute.local.fleet import free_port
from mecroute.local.names import Names
from mecroute.local.runtime import REGION, ZOO_DIR

from .nodes import Aws, Fleet, SiteKeys


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    """Moto as a server: the node processes reach it over loopback like the real services."""
    from moto.server import ThreadedMotoServer

    from mecroute.local import seed

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint_url = f"http://127.0.0.1:{port}"
    names = Names()
    env = {"AWS_ENDPOINT_URL": endpoint_url, **names.moto_environment(REGION)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        reset_clients()
        # moto's backends are per process: start from an empty account.
        reset = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
        specs = seed.create_resources(names, ZOO_DIR)
        try:
            yield Aws(endpoint_url, names, {spec.model_id: spec for spec in specs}, env)
        finally:
            server.stop()
            reset_clients()


@pytest.fixture
def fleet(aws: Aws, tmp_path: Path) -> Iterator[Fleet]:
    started = Fleet({**os.environ, **aws.env, "PYTHONUNBUFFERED": "1"}, SiteKeys(tmp_path))
    yield started
    for node in started.started:
        node.stop()


@pytest.fixture
def offline_fleet(tmp_path: Path) -> Iterator[Fleet]:
    """Nodes with no AWS at all: no bucket, no table (the standalone `mecroute node` case)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name in Names().environment():
        env.pop(name, None)
    started = Fleet({**env, "PYTHONUNBUFFERED": "1"}, SiteKeys(tmp_path))
    yield started
    for node in started.started:
        node.stop()
