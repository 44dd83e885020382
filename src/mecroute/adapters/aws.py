"""One botocore configuration for every AWS client: short timeouts, adaptive retries; and a
tighter one for the calls a caller waits on that can fall back."""

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
# Calls made while a caller waits, inside a 10 s state, that have somewhere to fall back to:
# the monitor's writes (whatever is still unstored goes to the record dead-letter queue) and
# the context agent's history read (skipped). Two quick attempts; adaptive mode's backoff
# and client-side rate limiting could outlast the state itself.
QUICK_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 2},
)


@functools.cache
def client(service: str, config: Config = CLIENT_CONFIG) -> Any:
    """A cached client; region and endpoint come from the environment (AWS_ENDPOINT_URL offline)."""
    return boto3.client(service, config=config)


@functools.cache
def table(name: str, config: Config = CLIENT_CONFIG) -> Any:
    return boto3.resource("dynamodb", config=config).Table(name)


def reset_clients() -> None:
    """Forget cached clients (tests and the offline runtime switch endpoints)."""
    client.cache_clear()
    table.cache_clear()
