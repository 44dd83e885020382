"""`mecroute serve` as a real process for each e2e module (its last test may stop it)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mecroute.local.fleet import free_port

# A success is stored after it is answered (RecordOutcome is an asynchronous Lambda event).
RECORD_DEADLINE_S = 30


def record_of(base_url: str, request_id: str) -> dict[str, Any]:
    """The request's decision record, once the local API serves it (a bounded wait)."""
    deadline = time.monotonic() + RECORD_DEADLINE_S
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/v1/decisions/{request_id}", timeout=30) as r:
                record: dict[str, Any] = json.loads(r.read())
                return record
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen[str], list[str]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mecroute.local.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner = [process.stdout.readline() for _ in range(4)]
    assert f"http://127.0.0.1:{port}" in banner[0], banner
    # The node addresses are printed at start (and only there: no answer carries them).
    listed = banner[1].strip().split(": ", 1)[1].split(", ")
    node_urls = [entry.split("=", 1)[1] for entry in listed]
    yield f"http://127.0.0.1:{port}", process, node_urls
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the server stops its MEC node processes too
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def recorded(
    server: tuple[str, subprocess.Popen[str], list[str]],
) -> Callable[[str], dict[str, Any]]:
    """`recorded(request_id)`: the decision record `mecroute serve` stored for it."""
    return lambda request_id: record_of(server[0], request_id)
