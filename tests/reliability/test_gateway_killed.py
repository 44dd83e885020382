"""A gateway process killed mid-load (SIGKILL: no drain, no goodbye) loses no record: restarted
on the same queue file, it ships what the dead one had committed, so every request that got an
answer has its decision record in the regional table and its outcome on the stream, once each
(a repeat of a shipment carries the same request and event ids)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from mecroute.local.gateways import GatewayProcess, sites_of
from mecroute.local.runtime import OfflineRuntime

from .faults import decision_items, every_stream_event

pytestmark = pytest.mark.e2e
CALLERS = 8
ANSWERS_BEFORE_THE_KILL = 60
DEADLINE_S = 60.0


def load(url: str, answered: list[str], stop: threading.Event) -> None:
    """One caller: requests back to back until stopped or the gateway is gone."""
    with httpx.Client(base_url=url, timeout=30) as caller:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                reply = caller.post(
                    "/v1/inference", json={"prompt": f"Translate item {n}, {id(stop)}"}
                )
            except httpx.TransportError:
                return  # killed: this request got no answer
            if reply.status_code == 200:
                answered.append(reply.json()["request_id"])


def queued(queue_file: Path) -> int:
    with sqlite3.connect(queue_file) as db:
        return int(db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])


def test_a_gateway_killed_mid_load_loses_no_answered_record(runtime: OfflineRuntime, tmp_path):
    site = sites_of(runtime)[0]
    gateway = GatewayProcess(site, tmp_path).start()
    answered: list[str] = []
    stop = threading.Event()
    callers = [
        threading.Thread(target=load, args=(gateway.url, answered, stop)) for _ in range(CALLERS)
    ]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + DEADLINE_S
    while len(answered) < ANSWERS_BEFORE_THE_KILL and time.monotonic() < deadline:
        time.sleep(0.01)
    while not httpx.get(f"{gateway.url}/health").json()["queue_depth"]:
        time.sleep(0.005)  # records committed and not yet shipped: what the kill must not lose

    gateway.kill()  # mid-load: callers still sending, records still queued
    stop.set()
    for caller in callers:
        caller.join()
    (queue_file,) = tmp_path.glob("*.sqlite")
    left_behind = queued(queue_file)
    restarted = GatewayProcess(site, tmp_path).start()
    try:
        with httpx.Client(base_url=restarted.url) as client:
            while client.get("/health").json()["queue_depth"] and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        restarted.stop()

    assert len(answered) >= ANSWERS_BEFORE_THE_KILL
    assert left_behind > 0, "the kill left nothing queued: this run did not test the replay"
    assert queued(queue_file) == 0
    for request_id in answered:
        assert len(decision_items(runtime, request_id)) == 1, request_id
    # The request's own outcome (a failed attempt before it, a node's 429 under this load, has
    # an outcome event of its own, with success false).
    outcomes = [
        e for e in every_stream_event(runtime) if e.get("kind") == "outcome" and e["success"]
    ]
    by_request = Counter(e["request_id"] for e in {e["event_id"]: e for e in outcomes}.values())
    assert {r: by_request[r] for r in answered if by_request[r] != 1} == {}
