"""The faster router decides exactly as the straightforward router does.

`frozen_router.py` beside this file is the router as it was before the speed work (kept in
tests, not in src), with every deliberate decision change since ported into it (escalation,
ranking answer length, breakers, the caller's budget); on generated snapshots and requests both
must give the same decision, field for field, `error` included.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mecroute.agents import router
from mecroute.domain.messages import ContextAnalysis, ResourceSnapshot
from mecroute.domain.request import CriterionWeights
from mecroute.domain.spend import CallerBudget

from . import frozen_router
from .test_router import contexts, property_settings, snapshots

DEFAULTS = CriterionWeights()
# Around the zoo's costs for one request (device free, MEC ~1e-5, cloud ~1e-4 dollars), so a
# budget removes some options, all of them or none.
REMAINING_USD = (0.0, 1e-6, 5e-6, 2e-5, 1e-4, 1.0)


@st.composite
def budgeted_snapshots(draw: st.DrawFn) -> ResourceSnapshot:
    """Up to ten MEC nodes: with more than four places the faster router scores only the
    options that may reach the primary and fallbacks, and must still choose the same ones.
    Some callers have a spend budget left."""
    snap = draw(snapshots(max_nodes=10))
    remaining = draw(st.none() | st.sampled_from(REMAINING_USD))
    if remaining is None:
        return snap
    budget = CallerBudget(remaining_usd=remaining, detail="caller bob's daily budget $0.01")
    return snap.model_copy(update={"caller_budget": budget})


def assert_same_decisions(ctx: ContextAnalysis, snap: ResourceSnapshot) -> None:
    for scoring, frozen_scoring in (
        (router.Scoring(), frozen_router.Scoring()),
        (router.ORIGINAL_SCORING, frozen_router.ORIGINAL_SCORING),
    ):
        faster = router.route(ctx, snap, DEFAULTS, scoring)
        before = frozen_router.route(ctx, snap, DEFAULTS, frozen_scoring)

        assert faster.model_dump() == before.model_dump()
    # and the options the simulator's policies read are estimated the same
    assert router.assess_options(ctx, snap) == frozen_router.assess_options(ctx, snap)


@property_settings
@given(ctx=contexts(), snap=budgeted_snapshots())
def test_decisions_equal_the_straightforward_router(
    ctx: ContextAnalysis, snap: ResourceSnapshot
) -> None:
    assert_same_decisions(ctx, snap)


@settings(property_settings, max_examples=100)
@given(snap=budgeted_snapshots(), ctxs=st.lists(contexts(), min_size=2, max_size=8))
def test_many_requests_on_one_snapshot_decide_as_each_would_alone(
    snap: ResourceSnapshot, ctxs: list[ContextAnalysis]
) -> None:
    # What the router keeps per snapshot object must not carry one request's terms into the next
    for ctx in ctxs:
        assert_same_decisions(ctx, snap)


@st.composite
def near_ties(draw: st.DrawFn) -> tuple[float, int]:
    """A figure at, or a hair from, a half of the last kept digit."""
    digits = draw(st.sampled_from([2, 4, 8]))
    units = draw(st.integers(0, 10**7))
    nudge = draw(st.sampled_from([0.0, 1e-15, -1e-15, 1e-12, -1e-12, 1e-9]))
    return (units + 0.5) / 10**digits + nudge, digits


@given(
    case=near_ties()
    | st.tuples(
        st.floats(-1e9, 1e12, allow_nan=False, allow_infinity=False),
        st.sampled_from([2, 4, 8]),
    )
)
@example(case=(-0.0, 4))
@example(case=(0.0, 2))
@example(case=(5e-324, 8))
@example(case=(0.00125, 4))
def test_the_routers_rounding_is_the_builtin_round(case: tuple[float, int]) -> None:
    value, digits = case
    assert repr(router._round(value, digits)) == repr(round(value, digits))
