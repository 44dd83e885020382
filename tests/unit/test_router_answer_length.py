"""The answer's length constrains, it does not rank: a guess of it cannot flip a tier (issue 15).

The context agent guesses the answer's length from the task type. The router checks the SLA and
the budget on that guess, and ranks the options that pass at a standard answer length
(`estimates.RANKING_ANSWER_TOKENS`), so a longer guess only ever removes options.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mecroute.agents import router
from mecroute.domain.messages import ContextAnalysis, ResourceSnapshot, RoutingDecision
from mecroute.domain.request import CriterionWeights

from .builders import CLOUD_MODEL, EDGE_LARGE, context, snapshot
from .test_router import contexts, property_settings, snapshots


def routed(ctx: ContextAnalysis, snap: ResourceSnapshot, answer_tokens: int) -> RoutingDecision:
    longer = ctx.model_copy(update={"output_tokens": answer_tokens})
    return router.route(longer, snap, CriterionWeights())


@property_settings
@given(
    ctx=contexts(),
    snap=snapshots(),
    shorter=st.integers(0, 3000),
    longer=st.integers(0, 3000),
)
def test_a_longer_answer_keeps_the_shorter_ones_choice_while_it_is_still_feasible(
    ctx: ContextAnalysis, snap: ResourceSnapshot, shorter: int, longer: int
) -> None:
    # Given one request, snapshot and weights with two guesses of the answer's length
    shorter, longer = min(shorter, longer), max(shorter, longer)

    # When both are routed
    short, long = routed(ctx, snap, shorter), routed(ctx, snap, longer)

    # Then every option both keep is scored the same, and the longer answer goes where the
    # shorter one went unless a constraint now rejects that place
    short_scores = {c.label: (c.score, c.scores) for c in short.candidates}
    for c in long.candidates:
        if c.label in short_scores:
            assert (c.score, c.scores) == short_scores[c.label]
    rejected_long = {r.candidate: r.constraint for r in long.rejected}
    if short.primary is not None and short.primary.label not in rejected_long:
        assert long.primary is not None
        assert long.primary.label == short.primary.label
    # and a longer answer never makes an option feasible that the shorter one was refused
    rejected_short = {r.candidate: r.constraint for r in short.rejected}
    for label, constraint in rejected_short.items():
        if constraint in ("sla", "budget"):
            assert label in rejected_long


def test_the_answer_length_flips_the_tier_only_when_the_sla_rejects_the_first_choice() -> None:
    # Given a prompt of middling complexity under a 3 s SLA (the case of issue 15: the cloud
    # at 256 answer tokens, edge-large at 512, edge-small at 1,024 before)
    snap = snapshot()
    ctx = context({"sla": {"max_latency_ms": 3000}}, complexity=0.5, task_type="qa")

    # When its answer is guessed ever longer
    decisions = {tokens: routed(ctx, snap, tokens) for tokens in (64, 256, 512, 1024, 2048)}

    # Then it stays in the cloud while the cloud can answer in time, then goes to edge-large
    # because the SLA rejects the cloud, never to a smaller model on length alone
    chosen = {tokens: d.primary.model_id for tokens, d in decisions.items() if d.primary}
    assert chosen == {
        64: CLOUD_MODEL,
        256: CLOUD_MODEL,
        512: CLOUD_MODEL,
        1024: EDGE_LARGE,
        2048: EDGE_LARGE,
    }
    cloud = f"cloud/{CLOUD_MODEL}"
    assert [r.constraint for r in decisions[1024].rejected if r.candidate == cloud] == ["sla"]


def test_the_first_design_still_ranks_at_the_guess() -> None:
    # The simulator's static-weights baseline keeps the old ranking, where the guess moves the
    # request off the cloud before the SLA rejects it
    snap = snapshot()
    ctx = context({"sla": {"max_latency_ms": 3000}}, complexity=0.5, task_type="qa")
    longer = ctx.model_copy(update={"output_tokens": 512})

    original = router.route(longer, snap, CriterionWeights(), router.ORIGINAL_SCORING)

    assert original.primary is not None

    assert original.primary.tier != "cloud"
    assert all(r.candidate != f"cloud/{CLOUD_MODEL}" for r in original.rejected)
