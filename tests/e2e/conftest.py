"""`mecroute serve` as a real process for each e2e module (its last test may stop it)."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mecroute.local.fleet import free_port


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
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
    yield f"http://127.0.0.1:{port}", process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the server stops its MEC node processes too
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
