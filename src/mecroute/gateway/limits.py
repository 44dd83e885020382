"""Per-caller request limits at the site: a token bucket per verified caller, in memory, per
gateway process (no call to the region on the request path). A caller over its limit gets 429
`TooManyRequests` naming the rate and the burst, with `Retry-After`. Anonymous callers (a site
with no API keys) are limited only by the site's capacity."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from mecroute.adapters.web import HttpProblem


@dataclass(frozen=True)
class Limit:
    rate_per_s: float
    burst: int

    def describe(self) -> str:
        return f"{self.rate_per_s:g} requests/s (burst {self.burst})"


@dataclass
class _Bucket:
    tokens: float
    at: float


class CallerLimits:
    """A token bucket per caller: `burst` tokens, refilled at `rate_per_s`; a request takes one."""

    def __init__(self, limit: Limit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}  # one per verified caller: as many as keys
        self._lock = threading.Lock()

    def wait_s(self, caller: str) -> float:
        """Take a token for `caller`: 0 when admitted, else how long until one is there."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                bucket = self._buckets[caller] = _Bucket(float(self.limit.burst), now)
            bucket.tokens = min(
                float(self.limit.burst), bucket.tokens + (now - bucket.at) * self.limit.rate_per_s
            )
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.limit.rate_per_s

    def admit(self, caller: str | None) -> str | None:
        """The caller, admitted; a 429 naming the limit when its bucket is empty."""
        if caller is None:
            return None
        wait = self.wait_s(caller)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise HttpProblem(
                429,
                "TooManyRequests",
                f"caller {caller} is over its limit of {self.limit.describe()} at this site: "
                f"retry in {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )
        return caller
