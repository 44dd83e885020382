"""A node's heartbeats: its record once at start, then health and load every few seconds."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from mecroute.adapters.ports import NodeRegistration
from mecroute.domain.registry import NodeRecord
from mecroute.mec.service import NodeService


class Heartbeats:
    """Writes from a daemon thread; a load or eviction sends one at once instead of waiting."""

    def __init__(
        self,
        service: NodeService,
        registration: NodeRegistration,
        record: Callable[[float], NodeRecord],
        interval_s: float,
    ) -> None:
        self.service = service
        self.registration = registration
        self.record = record
        self.interval_s = interval_s
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)
        self._failing = False

    def register(self) -> None:
        """Write the full record; done before the node answers, so readers find it at once."""
        self.registration.put(self.record(time.time()))

    def start(self) -> None:
        self.service.on_change = self._due.set
        self._thread.start()

    def beat_now(self) -> None:
        self._due.set()

    def stop(self) -> None:
        """Stop beating and write a last one saying the node is gone."""
        self._stopping.set()
        self._due.set()
        self._thread.join(timeout=self.interval_s + 5)
        self._send(stopped=True)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._send(stopped=False)
            self._due.wait(self.interval_s)
            self._due.clear()

    def _send(self, stopped: bool) -> None:
        node_id = self.service.profile.node_id
        try:
            beat = self.service.heartbeat(time.time(), stopped)
            if not self.registration.heartbeat(node_id, beat) and not stopped:
                # The record went missing (table recreated, item deleted): register again.
                self.registration.put(self.record(time.time()))
        except Exception as error:
            if not self._failing:  # once per outage, not once per beat
                print(f"heartbeat for {node_id} failed: {error}", file=sys.stderr, flush=True)
            self._failing = True
        else:
            self._failing = False
