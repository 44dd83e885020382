"""Circuit breakers in the deployed pipeline (offline: the ASL on moto, the real handlers, real
node processes): a node that keeps failing its inference calls while its health check says ok
is tripped by the execute guard, and the next request is routed around it without calling it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mecroute.adapters.aws import table
from mecroute.adapters.breaker_store import DynamoBreakerStore
from mecroute.adapters.dynamodb import DynamoNodeDirectory
from mecroute.agents.breakers import Breakers
from mecroute.local.fleet import free_port
from mecroute.local.runtime import OfflineRuntime

from .faults import ErrorServer, node_request, node_serving

NODE_LIST_TTL_S = 5.5
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def breakers(runtime: OfflineRuntime) -> Iterator[Breakers]:
    """The runtime's breakers table, emptied afterwards: other tests share this runtime."""
    name = runtime.names.breakers_table
    yield Breakers(DynamoBreakerStore(name))
    for item in table(name).scan()["Items"]:
        table(name).delete_item(Key={"breaker_key": item["breaker_key"]})


def strict(prompt: str) -> dict[str, Any]:
    """Strict privacy keeps the request on MEC nodes; a fresh prompt is never a cache hit."""
    return {"prompt": f"{prompt} ({uuid.uuid4()})", "privacy": "strict"}


def test_a_node_failing_every_call_opens_its_breaker_and_is_routed_around(
    runtime: OfflineRuntime, breakers: Breakers
) -> None:
    # Given: the node the router likes best is registered at an address that answers its
    # health check but fails every inference (the node itself keeps heartbeating)
    first = runtime.run(strict("Summarise: the meeting moved to Tuesday at noon."))
    assert first.output is not None
    target = first.output["decision"]["primary"]
    (record,) = [r for r in runtime.node_records() if r.node_id == target["node_id"]]
    health = node_request(node_serving(runtime, record.endpoint), "GET", "/health")
    broken = ErrorServer(free_port())
    broken.start(health)
    directory = DynamoNodeDirectory(runtime.names.nodes_table)
    directory.put(record.model_copy(update={"endpoint": f"http://127.0.0.1:{broken.port}"}))
    place = f"mec/{target['node_id']}/{target['model_id']}"
    # The resource agent reads node records through a 5 s cache: wait for it to see the broken
    # address (on a quiet machine 20 requests can all finish inside the old cache's lifetime).
    time.sleep(NODE_LIST_TTL_S)
    try:
        # When: requests keep coming until three have reached it (each answered by a fallback;
        # the router may send some elsewhere first, as load shifts)
        for _ in range(20):
            run = runtime.run(strict("Summarise: the meeting moved to Tuesday at noon."))
            assert run.status == "SUCCEEDED", run.cause
            if broken.infer_calls == 3:
                break
        assert broken.infer_calls == 3

        # Then: its breaker is open, with the reason and when the cooldown ends
        (seen,) = [v for v in breakers.views() if v.node_id == target["node_id"]]
        assert (seen.state, seen.admits, seen.model_id) == ("open", False, target["model_id"])
        assert seen.reason.startswith("3 consecutive failures, last: TierUnavailable")
        assert "answered 500" in seen.reason
        assert seen.cooldown_until is not None

        # and the next request is routed around it, the decision saying why, the node uncalled
        run = runtime.run(strict("Summarise: the meeting moved to Tuesday at noon."))
        assert run.status == "SUCCEEDED", run.cause
        assert run.output is not None
        assert run.output["failures"] == []
        removed = [r for r in run.output["decision"]["rejected"] if r["candidate"] == place]
        assert [r["constraint"] for r in removed] == ["breaker"]
        assert removed[0]["detail"].startswith("breaker open, retry in ")
        assert broken.infer_calls == 3
    finally:
        directory.put(record)
        # The resource agent reads node records through a 5 s cache: let it see the real
        # address again before the next test (a bounded wait for a cache, not a timing check).
        time.sleep(NODE_LIST_TTL_S)
        broken.stop()
