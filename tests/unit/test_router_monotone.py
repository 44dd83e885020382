"""The router's monotonicity: a harder prompt is never routed to a weaker model (issue 15)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mecroute.agents import router
from mecroute.domain.estimates import USE_CASE_BONUS, capability, use_case_bonus
from mecroute.domain.messages import ContextAnalysis, ResourceSnapshot, RoutingDecision
from mecroute.domain.request import CriterionWeights

from .builders import CLOUD_MODEL, DEVICE_MODEL, EDGE_LARGE, EDGE_SMALL, context, snapshot
from .test_router import contexts, property_settings, snapshots

weights = st.one_of(
    st.none(),
    st.builds(
        CriterionWeights,
        latency=st.floats(0, 1),
        accuracy=st.floats(0.01, 1),
        cost=st.floats(0, 1),
        availability=st.floats(0, 1),
    ),
)


def primary_rank(ctx: ContextAnalysis, snap: ResourceSnapshot) -> int | None:
    decision = router.route(ctx, snap, CriterionWeights())
    if decision.primary is None:
        return None
    return capability(snap.models).rank[decision.primary.model_id]


@property_settings
@given(
    ctx=contexts(),
    snap=snapshots(),
    chosen=weights,
    easier=st.floats(0, 1),
    harder=st.floats(0, 1),
)
def test_a_harder_prompt_is_never_routed_to_a_weaker_model(
    ctx: ContextAnalysis,
    snap: ResourceSnapshot,
    chosen: CriterionWeights | None,
    easier: float,
    harder: float,
) -> None:
    # Given one request, snapshot, SLA and weights, at two complexities; no accuracy floor,
    # which may rightly send a hard prompt to the model the registry predicts does better on
    # it even when that model is weaker on average (estimates.Capability)
    easier, harder = min(easier, harder), max(easier, harder)
    sla = ctx.request.sla.model_copy(update={"min_accuracy": 0.0})
    request = ctx.request.model_copy(update={"weights": chosen, "sla": sla})
    easy = ctx.model_copy(update={"request": request, "complexity": easier})
    hard = ctx.model_copy(update={"request": request, "complexity": harder})

    # When both are routed
    easy_rank, hard_rank = primary_rank(easy, snap), primary_rank(hard, snap)

    # Then the harder prompt's model is at least as capable (when both have a route)
    if easy_rank is not None and hard_rank is not None:
        assert hard_rank >= easy_rank


def test_capability_ranks_follow_the_registry_average_accuracy() -> None:
    ranks = capability(snapshot().models).rank

    assert sorted(ranks, key=ranks.__getitem__) == [
        DEVICE_MODEL,
        EDGE_SMALL,
        EDGE_LARGE,
        CLOUD_MODEL,
    ]


def test_credits_outgrow_every_stronger_models_faster_accuracy_drop() -> None:
    models = snapshot().models
    ranks = capability(models)
    by_rank = sorted(models, key=lambda m: ranks.rank[m.model_id])
    for weak_index, weak in enumerate(by_rank):
        for strong in by_rank[weak_index + 1 :]:
            excess = (strong.accuracy_easy - strong.accuracy_hard) - (
                weak.accuracy_easy - weak.accuracy_hard
            )
            gained = ranks.credit[strong.model_id] - ranks.credit[weak.model_id]
            assert gained >= max(0.0, excess) - 1e-12
    # edge-large drops 1.0 from easy to hard, tinytext 0.7: the credit makes up the 0.3
    assert ranks.credit[EDGE_LARGE] - ranks.credit[DEVICE_MODEL] >= 0.3 - 1e-12


def test_the_default_snapshot_escalates_as_complexity_rises() -> None:
    # The old non-monotone sweep: code went edge-large -> edge-small -> cloud
    snap = snapshot()
    ranks = [
        primary_rank(context(complexity=step / 20, task_type="code"), snap) for step in range(21)
    ]

    assert None not in ranks
    assert ranks == sorted(ranks, key=lambda r: r or 0)


def test_a_model_declared_for_the_task_type_scores_higher_than_one_that_is_not() -> None:
    # Given the same model twice, identical but for whether its use cases name "code"
    base = snapshot().models
    large = next(m for m in base if m.model_id == EDGE_LARGE)
    coder = large.model_copy(update={"use_cases": ["code"]})
    plain = large.model_copy(update={"use_cases": ["chat"]})
    others = [m for m in base if m.model_id != EDGE_LARGE]
    ctx = context(complexity=0.3, task_type="code")

    # When a code request is routed with each
    with_coder = router.route(ctx, snapshot(models=[*others, coder]), CriterionWeights())
    with_plain = router.route(ctx, snapshot(models=[*others, plain]), CriterionWeights())

    # Then the declared model scores higher, by the bonus under the accuracy weight (scaled)
    def large_score(decision: RoutingDecision) -> float:
        return next(c.score for c in decision.candidates if c.model_id == EDGE_LARGE)

    assert large_score(with_coder) > large_score(with_plain)
    assert use_case_bonus(coder, "code") == USE_CASE_BONUS
    assert use_case_bonus(plain, "code") == 0.0
    # and a chat request credits the other one
    assert use_case_bonus(plain, "chat") == USE_CASE_BONUS
