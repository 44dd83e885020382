"""One botocore configuration for every AWS client: short timeouts, adaptive retries."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"mode": "adaptive", "max_attempts": 4},
)


@functools.cache
def client(service: str) -> Any:
    """A cached client; region and endpoint come from the environment (AWS_ENDPOINT_URL offline)."""
    return boto3.client(service, config=CLIENT_CONFIG)


@functools.cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=CLIENT_CONFIG).Table(name)


def reset_clients() -> None:
    """Forget cached clients (tests and the offline runtime switch endpoints)."""
    client.cache_clear()
    table.cache_clear()
