"""A request through the offline pipeline served by a model server node entry (`openai+`):
the execute agent speaks the OpenAI protocol to it, the answer and usage come from it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mecroute.adapters.aws import client
from mecroute.adapters.dynamodb import DynamoNodeDirectory
from mecroute.local.model_servers import model_server_entry
from mecroute.local.runtime import OfflineRuntime
from mecroute.mec.profiles import DEFAULT_SITES

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
METRO = next(site for site in DEFAULT_SITES if site.node_id == "mec-metro-1")
BYO = f"{METRO.node_id}-byo"


@pytest.fixture(scope="module")
def runtime() -> Iterator[OfflineRuntime]:
    # One built-in node, heartbeating once: its entry is then replaced by a model server entry
    # pointing at the same process, which serves the OpenAI protocol too.
    with OfflineRuntime(sites=(METRO,), time_scale=0.0, heartbeat_s=3600) as started:
        (node,) = started.nodes
        table = started.names.nodes_table
        client("dynamodb").delete_item(TableName=table, Key={"node_id": {"S": METRO.node_id}})
        # Named after the site, so the execute agent signs with the site's key.
        entry = model_server_entry(f"{BYO}={node.endpoint}")
        DynamoNodeDirectory(table).put(entry)
        yield started


def test_the_pipeline_runs_a_request_on_a_model_server_node(runtime: OfflineRuntime) -> None:
    request = {
        "prompt": "What is the capital of France?",
        "privacy": "strict",  # never the cloud
        "model_preference": "edge-small-v1",
        "pin_model": True,  # never the device
        "max_tokens": 9,
    }

    run = runtime.run(request)

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output is not None
    result = run.output["result"]
    assert (result["tier"], result["node_id"], result["model_id"]) == (
        "mec",
        BYO,
        "edge-small-v1",
    )
    assert result["output"].startswith("[edge-small-v1, simulated]")
    assert (result["output_tokens"], result["finish_reason"]) == (9, "length")
    assert result["input_tokens"] > 0
