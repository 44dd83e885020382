"""Circuit breakers, one per place (tier, node, model): when a place counts as unavailable.

closed → open after `consecutive_failures` failures in a row, or when at least
`window_min_calls` calls in a window of `window_s` seconds failed at `window_failure_rate` or
more; open → half-open once `cooldown_s` has passed, and then exactly one request (the probe)
is let through; the probe's success closes the breaker, its failure opens it for another
cooldown. These pure transitions are the one definition of "unavailable" the router, the
execute guard, the edge gateway and the learning loop share: a refusal by an open breaker
(`CircuitOpen`) never counts as the place failing (the learning loop skips it too).

A healthy place costs no write: successes are only counted while a window opened by a failure
is running (that is what the failure rate is measured over).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mecroute.domain.errors import CircuitOpen, DeadlineExceeded, TierUnavailable
from mecroute.domain.registry import Tier

BreakerState = Literal["closed", "open", "half_open"]

# Node answers that say "busy" or "asked wrongly", not "broken": they never trip a breaker.
NOT_BROKEN_NODE_ERRORS = frozenset(
    {"Saturated", "InvalidRequest", "ModelNotLoaded", "UnknownModel", "NotFound"}
)


class BreakerPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    consecutive_failures: int = Field(default=3, ge=1)
    window_s: float = Field(default=60.0, gt=0)
    window_min_calls: int = Field(default=10, ge=1)
    window_failure_rate: float = Field(default=0.5, gt=0, le=1)
    cooldown_s: float = Field(default=30.0, gt=0)
    # A probe that never reports back (its Lambda died) frees the half-open slot after this.
    probe_timeout_s: float = Field(default=60.0, gt=0)


class Breaker(BaseModel):
    """A place's breaker as stored (DynamoDB item, or the gateway's memory)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    breaker_key: str
    tier: Tier
    node_id: str = "-"
    model_id: str
    state: BreakerState = "closed"
    reason: str = ""
    consecutive_failures: int = Field(default=0, ge=0)
    window_started_at: float | None = None
    window_calls: int = Field(default=0, ge=0)
    window_failures: int = Field(default=0, ge=0)
    opened_at: float | None = None
    cooldown_until: float | None = None
    probe_started_at: float | None = None
    changed_at: float = 0.0
    revision: int = Field(default=0, ge=0, description="Bumped on every write (optimistic lock).")


class BreakerView(BaseModel):
    """What a person (GET /v1/nodes, the gateway's /health) and the router see of a breaker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    breaker_key: str
    tier: Tier
    node_id: str
    model_id: str
    state: BreakerState = Field(description="Effective now: an open breaker past its cooldown "
                                "reads half_open.")  # fmt: skip
    admits: bool = Field(description="Whether a request may go there now (a probe, if half-open).")
    reason: str
    consecutive_failures: int
    cooldown_until: float | None = Field(description="Epoch seconds the cooldown ends.")
    retry_in_s: float = Field(ge=0, description="Seconds until the next probe may go.")
    changed_at: float


# What a view shows of a breaker exactly as stored (the rest it works out for `now`).
_SHOWN_AS_STORED = {
    "breaker_key", "tier", "node_id", "model_id", "reason", "consecutive_failures",
    "cooldown_until", "changed_at",
}  # fmt: skip


def place_key(tier: str, node_id: str | None, model_id: str) -> str:
    """`mec#mec-metro-1#edge-small-v1`: a place's key, shared by breakers and learned stats."""
    return f"{tier}#{node_id or '-'}#{model_id}"


def closed(tier: Tier, node_id: str | None, model_id: str) -> Breaker:
    return Breaker(
        breaker_key=place_key(tier, node_id, model_id),
        tier=tier,
        node_id=node_id or "-",
        model_id=model_id,
    )


def is_place_failure(error: BaseException) -> bool:
    """Whether an attempt's error says the place itself is failing (what trips a breaker)."""
    if isinstance(error, CircuitOpen) or not isinstance(error, TierUnavailable):
        return False
    if isinstance(error, DeadlineExceeded):
        # Abandoned waiting on the place counts; not started for lack of time does not.
        return error.__cause__ is not None
    return error.node_error not in NOT_BROKEN_NODE_ERRORS


def counts_against_place(error_name: str | None) -> bool:
    """The same rule for a recorded failure, known by its error name only (stream events): a
    breaker's own refusal is not the place failing, so the learning loop does not count it."""
    return error_name != CircuitOpen.__name__


def _probe_in_flight(breaker: Breaker, now: float, policy: BreakerPolicy) -> bool:
    started = breaker.probe_started_at
    return started is not None and now - started < policy.probe_timeout_s


def view(breaker: Breaker, now: float, policy: BreakerPolicy) -> BreakerView:
    state, admits, retry_in = breaker.state, True, 0.0
    if state == "open":
        cooldown_until = breaker.cooldown_until or now
        if now < cooldown_until:
            admits, retry_in = False, cooldown_until - now
        else:
            state = "half_open"
    elif state == "half_open" and _probe_in_flight(breaker, now, policy):
        admits = False
        retry_in = (breaker.probe_started_at or now) + policy.probe_timeout_s - now
    shown = breaker.model_dump(include=_SHOWN_AS_STORED)
    return BreakerView(**shown, state=state, admits=admits, retry_in_s=round(max(0.0, retry_in), 3))


def admit(breaker: Breaker, now: float, policy: BreakerPolicy) -> Breaker | None:
    """The breaker after letting one request through, or None if it refuses.

    A closed breaker admits without a write (returns itself); a half-open one admits exactly one
    probe, recorded as `probe_started_at` so that concurrent callers see the slot taken.
    """
    seen = view(breaker, now, policy)
    if not seen.admits:
        return None
    if seen.state == "closed":
        return breaker
    return _moved(breaker, now, state="half_open", probe_started_at=now)


def after_success(breaker: Breaker, now: float, policy: BreakerPolicy) -> Breaker | None:
    """The breaker after a successful call; None when nothing changed (nothing to write)."""
    if breaker.state != "closed":
        if breaker.state == "open":
            return None  # a call admitted before it opened: the cooldown still runs
        return _moved(
            closed(breaker.tier, breaker.node_id, breaker.model_id),
            now,
            reason="probe succeeded: closed",
            revision=breaker.revision,
        )
    in_window = _window_running(breaker, now, policy)
    if breaker.consecutive_failures == 0 and not in_window:
        return None
    if not in_window:
        return _moved(breaker, now, consecutive_failures=0, window_started_at=None,
                      window_calls=0, window_failures=0)  # fmt: skip
    return _moved(breaker, now, consecutive_failures=0, window_calls=breaker.window_calls + 1)


def after_failure(breaker: Breaker, now: float, policy: BreakerPolicy, cause: str) -> Breaker:
    """The breaker after a call that failed at the place (see `is_place_failure`)."""
    if breaker.state == "open":
        return breaker  # already open: the late failure of an earlier call changes nothing
    if breaker.state == "half_open":
        return _opened(breaker, now, policy, f"probe failed: {cause}")
    running = _window_running(breaker, now, policy)
    calls = breaker.window_calls + 1 if running else 1
    failures = breaker.window_failures + 1 if running else 1
    started = breaker.window_started_at if running else now
    consecutive = breaker.consecutive_failures + 1
    counted = breaker.model_copy(
        update={"consecutive_failures": consecutive, "window_started_at": started,
                "window_calls": calls, "window_failures": failures}
    )  # fmt: skip
    if consecutive >= policy.consecutive_failures:
        return _opened(counted, now, policy, f"{consecutive} consecutive failures, last: {cause}")
    if calls >= policy.window_min_calls and failures / calls >= policy.window_failure_rate:
        rate = f"{failures} of {calls} calls failed in {policy.window_s:g} s"
        return _opened(counted, now, policy, f"{rate}, last: {cause}")
    return _moved(counted, now, reason=f"{consecutive} consecutive failures, last: {cause}")


def _window_running(breaker: Breaker, now: float, policy: BreakerPolicy) -> bool:
    started = breaker.window_started_at
    return started is not None and now - started <= policy.window_s


def _opened(breaker: Breaker, now: float, policy: BreakerPolicy, reason: str) -> Breaker:
    return _moved(
        breaker,
        now,
        state="open",
        reason=reason[:500],
        opened_at=now,
        cooldown_until=now + policy.cooldown_s,
        probe_started_at=None,
    )


def _moved(breaker: Breaker, now: float, revision: int | None = None, **changes: object) -> Breaker:
    """`breaker` with `changes`, stamped and one revision on from `revision` (its own)."""
    base = breaker.revision if revision is None else revision
    return breaker.model_copy(update={**changes, "changed_at": now, "revision": base + 1})
