"""Your own OpenAI-compatible model servers as MEC nodes offline: `mecroute serve --model-server
NODE_ID=URL` writes each one's node entry (endpoint `openai+URL`) into the nodes table."""

from __future__ import annotations

import argparse
import time

from pydantic import ValidationError

from mecroute.adapters.openai_server import SCHEME_PREFIX
from mecroute.domain.registry import NodeRecord

SITE = "model-server"


def model_server_entry(text: str) -> NodeRecord:
    """`NODE_ID=URL` as a node entry; argparse shows the problem (no traceback)."""
    node_id, _, url = text.partition("=")
    if not node_id or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{text!r}: give NODE_ID=http://HOST:PORT")
    try:
        return NodeRecord(
            node_id=node_id, site=SITE, endpoint=SCHEME_PREFIX + url.rstrip("/"),
            heartbeat_at=time.time(),
        )  # fmt: skip
    except ValidationError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def register_model_servers(nodes_table: str, entries: list[NodeRecord]) -> list[NodeRecord]:
    from mecroute.adapters.dynamodb import DynamoNodeDirectory  # boto3: not for `--help`

    directory = DynamoNodeDirectory(nodes_table)
    for entry in entries:
        directory.put(entry)
    return entries
