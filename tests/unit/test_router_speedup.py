"""The faster router decides exactly as the router did before it was made faster.

`frozen_router.py` beside this file is the router as it was before the speed work (kept in
tests, not in src); on generated snapshots and requests both must give the same decision.
"""

from __future__ import annotations

from hypothesis import given

from mecroute.agents import router
from mecroute.domain.messages import ContextAnalysis, ResourceSnapshot
from mecroute.domain.request import CriterionWeights

from . import frozen_router
from .test_router import contexts, property_settings, snapshots

DEFAULTS = CriterionWeights()


@property_settings
# Up to ten MEC nodes: with more than four places the faster router scores only the options
# that may reach the primary and fallbacks, and must still choose exactly the same ones.
@given(ctx=contexts(), snap=snapshots(max_nodes=10))
def test_decisions_equal_the_router_before_the_speedup(
    ctx: ContextAnalysis, snap: ResourceSnapshot
) -> None:
    for scoring, frozen_scoring in (
        (router.Scoring(), frozen_router.Scoring()),
        (router.ORIGINAL_SCORING, frozen_router.ORIGINAL_SCORING),
    ):
        faster = router.route(ctx, snap, DEFAULTS, scoring)
        before = frozen_router.route(ctx, snap, DEFAULTS, frozen_scoring)

        # `error` came after the frozen router: without a caller budget it only names no route.
        assert faster.model_dump(exclude={"error"}) == before.model_dump(exclude={"error"})
        assert faster.error == (None if faster.primary else "NoFeasibleRoute")
        # and the options the simulator's policies read are estimated the same
        assert router.assess_options(ctx, snap) == frozen_router.assess_options(ctx, snap)
