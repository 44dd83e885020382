"""The execute guard's breaker half: admit a call to a place, then report how it went.

Transitions are `mecroute.domain.breaker`'s; this module reads and writes them through a
`BreakerStore` with optimistic writes (read, transition, write unless someone else wrote
first), so concurrent Lambdas agree on one state and exactly one of them gets a half-open
breaker's probe. The device tier runs on the caller's own hardware: it has no breaker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mecroute.adapters.ports import BreakerStore
from mecroute.domain import breaker as transitions
from mecroute.domain.breaker import Breaker, BreakerPolicy, BreakerView
from mecroute.domain.errors import CircuitOpen
from mecroute.domain.messages import Candidate

MAX_WRITE_ATTEMPTS = 5
log = logging.getLogger(__name__)


def _ignore(_: Breaker) -> None:
    return None


@dataclass
class Breakers:
    store: BreakerStore
    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    clock: Callable[[], float] = time.time
    # Called with the breaker after each change of state (metrics, logs).
    on_change: Callable[[Breaker], None] = _ignore

    def views(self) -> list[BreakerView]:
        now = self.clock()
        return [transitions.view(b, now, self.policy) for b in self.store.list_breakers()]

    def not_closed(self) -> list[BreakerView]:
        """What the router needs in its snapshot: every breaker that is not plainly closed."""
        return [seen for seen in self.views() if seen.state != "closed"]

    def admit(self, target: Candidate) -> None:
        """Raise CircuitOpen, at once, when the place's breaker refuses the call."""
        if target.tier == "device":
            return
        key = transitions.place_key(target.tier, target.node_id, target.model_id)
        for _ in range(MAX_WRITE_ATTEMPTS):
            now = self.clock()
            current = self.store.get(key)
            if current is None:
                return
            admitted = transitions.admit(current, now, self.policy)
            if admitted is None:
                raise CircuitOpen(_refusal(target, transitions.view(current, now, self.policy)))
            if admitted is current:
                return
            if self.store.put_if_unchanged(admitted, current.revision):
                self.on_change(admitted)
                return
        raise CircuitOpen(f"{target.label}: breaker contended, its probe taken by another call")

    def succeeded(self, target: Candidate) -> None:
        self._record(target, lambda b, now: transitions.after_success(b, now, self.policy))

    def failed(self, target: Candidate, error: BaseException) -> None:
        """Count `error` against the place when it says the place is failing."""
        if not transitions.is_place_failure(error):
            return
        cause = f"{type(error).__name__}: {error}"[:300]
        self._record(target, lambda b, now: transitions.after_failure(b, now, self.policy, cause))

    def _record(
        self, target: Candidate, change: Callable[[Breaker, float], Breaker | None]
    ) -> None:
        if target.tier == "device":
            return
        key = transitions.place_key(target.tier, target.node_id, target.model_id)
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = self.store.get(key)
            base = current or transitions.closed(target.tier, target.node_id, target.model_id)
            updated = change(base, self.clock())
            if updated is None or updated is base:
                return
            if self.store.put_if_unchanged(updated, current.revision if current else None):
                if updated.state != base.state:
                    self.on_change(updated)
                return
        # The outcome is lost to the breaker, not to the caller: the answer already stands.
        log.warning("breaker %s: still contended after %d attempts", key, MAX_WRITE_ATTEMPTS)


def _refusal(target: Candidate, seen: BreakerView) -> str:
    if seen.state == "half_open":
        return f"{target.label}: breaker half-open, its one probe is in flight ({seen.reason})"
    return (
        f"{target.label}: breaker open for another {seen.retry_in_s:.1f} s "
        f"(until {seen.cooldown_until:.3f}): {seen.reason}"
    )
