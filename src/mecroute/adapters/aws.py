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

# Bedrock's Converse, which a caller waits on: each call's read timeout is the time left before
# the request's deadline (set per call by `adapters.cloud`); `read_timeout` here is the most any
# call may wait, under the Execute state's 25 s, and the bound where the runtime's botocore
# predates per-call read timeouts. One attempt: a retry has no time left inside the deadline,
# and a throttled or timed-out call moves on to the next candidate instead.
BEDROCK_CONFIG = Config(
    connect_timeout=1,
    read_timeout=23,
    retries={"mode": "standard", "total_max_attempts": 1},
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
