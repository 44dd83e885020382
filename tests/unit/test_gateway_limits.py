"""The gateway's per-caller token buckets (mecroute.gateway.limits), on a clock the test moves."""

from __future__ import annotations

import pytest

from mecroute.adapters.web import HttpProblem
from mecroute.gateway.limits import CallerLimits, Limit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_gets_its_burst_then_its_rate():
    clock = Clock()
    limits = CallerLimits(Limit(rate_per_s=2.0, burst=3), clock)

    admitted = [limits.wait_s("alice") == 0 for _ in range(4)]
    clock.now += 0.5  # one token at 2/s
    after_half_a_second = [limits.wait_s("alice") == 0 for _ in range(2)]

    assert admitted == [True, True, True, False]
    assert after_half_a_second == [True, False]


def test_the_bucket_never_holds_more_than_the_burst():
    clock = Clock()
    limits = CallerLimits(Limit(rate_per_s=10.0, burst=2), clock)
    limits.wait_s("alice")
    clock.now += 3600

    assert [limits.wait_s("alice") == 0 for _ in range(3)] == [True, True, False]


def test_callers_do_not_share_a_bucket_and_anonymous_callers_are_not_limited():
    limits = CallerLimits(Limit(rate_per_s=0.001, burst=1), Clock())

    assert limits.admit("alice") == "alice"
    assert limits.admit("bob") == "bob"
    assert [limits.admit(None) for _ in range(5)] == [None] * 5


def test_a_refusal_is_a_429_naming_the_limit_with_retry_after():
    limits = CallerLimits(Limit(rate_per_s=0.25, burst=1), Clock())
    limits.admit("alice")

    with pytest.raises(HttpProblem) as refused:
        limits.admit("alice")

    problem = refused.value
    assert (problem.status, problem.error) == (429, "TooManyRequests")
    assert "0.25 requests/s (burst 1)" in problem.message
    assert problem.headers == {"Retry-After": "4"}  # one token at 0.25/s: 4 s
