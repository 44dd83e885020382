"""Router agent: hard constraints, weighted scoring, load balancing and fallback order."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mecroute.agents import router
from mecroute.domain.breaker import BreakerView
from mecroute.domain.estimates import (
    EDGE_PATH_PRIOR,
    REGIONAL_PATH_PRIOR,
    USE_CASE_BONUS,
    RoutingOverhead,
    capability,
    predicted_accuracy,
    use_case_bonus,
)
from mecroute.domain.messages import (
    Candidate,
    ContextAnalysis,
    NodeStatus,
    ResourceSnapshot,
    RoutingDecision,
    TierStat,
)
from mecroute.domain.request import CriterionWeights

from .builders import (
    CLOUD_MODEL,
    DEVICE_MODEL,
    EDGE_LARGE,
    EDGE_SMALL,
    context,
    model_spec,
    node_status,
    snapshot,
    zoo_specs,
)

DEFAULTS = CriterionWeights()
CLOUD_LABEL = f"cloud/{CLOUD_MODEL}"
DEVICE_LABEL = f"device/{DEVICE_MODEL}"


def route(ctx: ContextAnalysis, snap: ResourceSnapshot | None = None) -> RoutingDecision:
    return router.route(ctx, snapshot() if snap is None else snap, DEFAULTS)


def labels(candidates: list[Candidate]) -> list[str]:
    return [c.label for c in candidates]


def rejections(decision: RoutingDecision) -> dict[str, str]:
    return {r.candidate: r.constraint for r in decision.rejected}


def place(c: Candidate) -> tuple[str, str | None]:
    return (c.tier, c.node_id)


# -- weights -------------------------------------------------------------------------------------


def test_default_weights_are_40_30_20_10() -> None:
    decision = route(context())

    w = decision.weights
    assert (w.latency, w.accuracy, w.cost, w.availability) == pytest.approx((0.4, 0.3, 0.2, 0.1))


def test_default_weights_are_normalised() -> None:
    equal = CriterionWeights(latency=1, accuracy=1, cost=1, availability=1)

    decision = router.route(context(), snapshot(), equal)

    w = decision.weights
    assert (w.latency, w.accuracy, w.cost, w.availability) == pytest.approx((0.25,) * 4)


def test_request_weights_override_defaults_and_are_normalised() -> None:
    ctx = context({"weights": {"latency": 0.5, "accuracy": 0.5, "cost": 0, "availability": 0}})

    w = route(ctx).weights

    assert (w.latency, w.accuracy, w.cost, w.availability) == pytest.approx((0.5, 0.5, 0, 0))


def test_score_is_the_weighted_sum_of_criteria() -> None:
    # plus, under the accuracy weight, the escalation credit stronger models earn on harder
    # prompts (estimates.Capability), scaled back into [0, 1]
    ctx = context()
    ranks = capability(snapshot().models)
    specs = {m.model_id: m for m in snapshot().models}
    decision = route(ctx)

    for c in decision.candidates:
        w, s = decision.weights, c.scores
        expected = (
            w.latency * s.latency
            + w.accuracy * (s.accuracy + ranks.bonus(c.model_id, ctx.complexity))
            + w.accuracy * use_case_bonus(specs[c.model_id], ctx.task_type)
            + w.cost * s.cost
            + w.availability * s.availability
        ) / (1 + w.accuracy * (ranks.ceiling + USE_CASE_BONUS))
        assert c.score == pytest.approx(expected, abs=1e-3)


def hard_prompt_context(**request: Any) -> ContextAnalysis:
    return context(request, complexity=0.95, input_tokens=300, output_tokens=300, task_type="qa")


def test_a_hard_prompt_goes_to_the_cloud_while_the_cloud_can_answer_it_in_time() -> None:
    # Given a hard prompt whose 300-token answer the cloud is predicted to deliver just inside
    # the default 3 s SLA, and one with a 400-token answer it cannot
    in_time = route(hard_prompt_context())
    too_long = route(hard_prompt_context().model_copy(update={"output_tokens": 400}))

    # Then the first goes to the cloud, the most accurate; the second stays off it, rejected
    # by the SLA (the answer's length constrains, it does not rank: issue 15)
    assert in_time.primary is not None
    assert in_time.primary.label == CLOUD_LABEL
    assert in_time.primary.predicted_latency_ms <= 3000
    assert too_long.primary is not None
    assert too_long.primary.tier != "cloud"
    assert [r.constraint for r in too_long.rejected if r.candidate == CLOUD_LABEL] == ["sla"]


def test_accuracy_only_weights_send_a_hard_prompt_to_the_cloud() -> None:
    accuracy_only = {"latency": 0, "accuracy": 1.0, "cost": 0, "availability": 0}

    decision = route(hard_prompt_context(weights=accuracy_only))

    assert decision.primary is not None
    assert decision.primary.label == CLOUD_LABEL


def test_cost_only_weights_pick_a_free_model() -> None:
    cost_only = {"latency": 0, "accuracy": 0, "cost": 1.0, "availability": 0}

    decision = route(hard_prompt_context(weights=cost_only))

    assert decision.primary.predicted_cost_usd == 0.0


# -- privacy -------------------------------------------------------------------------------------


def test_strict_privacy_never_routes_to_cloud() -> None:
    decision = route(context({"privacy": "strict"}))

    assert all(c.tier != "cloud" for c in decision.candidates)
    assert rejections(decision)[CLOUD_LABEL] == "privacy"


def test_strict_privacy_with_only_cloud_leaves_no_route() -> None:
    # Given only a cloud model and no MEC node
    snap = snapshot(nodes=[], models=[model_spec(CLOUD_MODEL)])

    # When a strict-privacy request is routed
    decision = route(context({"privacy": "strict"}), snap)

    # Then nothing is chosen and the cloud is rejected on privacy
    assert decision.primary is None
    assert decision.fallbacks == []
    assert decision.candidates == []
    assert [(r.candidate, r.constraint) for r in decision.rejected] == [(CLOUD_LABEL, "privacy")]
    assert decision.confidence == 0.0
    assert "no feasible candidate" in decision.reason
    assert "privacy" in decision.reason


def test_strict_privacy_beats_cloud_outage_as_rejection_reason() -> None:
    snap = snapshot(nodes=[], models=[model_spec(CLOUD_MODEL)], cloud_available=False)

    decision = route(context({"privacy": "strict"}), snap)

    assert rejections(decision) == {CLOUD_LABEL: "privacy"}


def test_strict_privacy_still_uses_mec_and_device() -> None:
    decision = route(context({"privacy": "strict"}))

    assert decision.primary is not None
    assert {c.tier for c in decision.candidates} <= {"mec", "device"}


def test_personal_data_escalated_privacy_keeps_request_off_foreign_cloud() -> None:
    # The context agent upgraded privacy to regional; the caller asked for none.
    ctx = context({"privacy": "none"}, personal_data=["email"], effective_privacy="regional")

    decision = route(ctx, snapshot(nodes=[]))

    assert rejections(decision)[CLOUD_LABEL] == "privacy"


def test_regional_privacy_rejects_cloud_when_device_region_unknown() -> None:
    decision = route(context({"privacy": "regional"}), snapshot(nodes=[]))

    assert rejections(decision)[CLOUD_LABEL] == "privacy"
    assert labels(decision.candidates) == [DEVICE_LABEL]


def test_regional_privacy_allows_mec_when_device_region_unknown() -> None:
    decision = route(context({"privacy": "regional"}))

    assert any(c.tier == "mec" for c in decision.candidates)


def test_regional_privacy_rejects_cloud_in_another_region() -> None:
    ctx = context({"privacy": "regional", "device": {"region": "eu-west-1"}})

    decision = route(ctx, snapshot(nodes=[], cloud_region="us-east-1"))

    assert rejections(decision)[CLOUD_LABEL] == "privacy"


def test_regional_privacy_rejects_mec_node_in_another_region() -> None:
    ctx = context({"privacy": "regional", "device": {"region": "eu-west-1"}})
    snap = snapshot(nodes=[node_status("far", region="us-east-1")], models=[model_spec(EDGE_SMALL)])

    decision = route(ctx, snap)

    assert decision.primary is None
    assert rejections(decision) == {f"mec/far/{EDGE_SMALL}": "privacy"}


def test_regional_privacy_allows_cloud_in_the_devices_region() -> None:
    ctx = context({"privacy": "regional", "device": {"region": "eu-west-1"}})

    decision = route(ctx, snapshot(nodes=[], cloud_region="eu-west-1"))

    assert CLOUD_LABEL in labels(decision.candidates)
    assert CLOUD_LABEL not in rejections(decision)


def test_no_privacy_allows_cloud_anywhere() -> None:
    ctx = context({"device": {"region": "eu-west-1"}})

    decision = route(ctx, snapshot(nodes=[], cloud_region="ap-south-1"))

    assert CLOUD_LABEL in labels(decision.candidates)


# -- SLA, accuracy, budget -----------------------------------------------------------------------


# The regional routing path's prior median: every prediction on the default snapshot adds it.
PATH_MS = int(REGIONAL_PATH_PRIOR.p50_ms)


def test_candidates_slower_than_the_sla_are_rejected() -> None:
    # Given 150 ms for the tier after the routing path: the cloud's 60 ms backhaul plus its
    # compute cannot make it
    sla = PATH_MS + 150
    ctx = context({"sla": {"max_latency_ms": sla}}, input_tokens=100, output_tokens=100)

    decision = route(ctx)

    assert rejections(decision)[CLOUD_LABEL] == "sla"
    assert decision.candidates
    assert all(c.predicted_latency_ms <= sla for c in decision.candidates)


def test_sla_rejection_detail_names_both_latencies() -> None:
    sla = PATH_MS + 150
    ctx = context({"sla": {"max_latency_ms": sla}}, input_tokens=100, output_tokens=100)

    detail = next(r.detail for r in route(ctx).rejected if r.candidate == CLOUD_LABEL)

    assert f"> {sla} ms" in detail
    assert f"routing path ~{PATH_MS} ms (regional p50, prior)" in detail


# -- the routing path's own time -----------------------------------------------------------------


def test_every_prediction_counts_the_routing_path() -> None:
    edge = snapshot(routing_overhead=EDGE_PATH_PRIOR)

    regional = {c.label: c for c in route(context()).candidates}
    at_edge = {c.label: c for c in route(context(), edge).candidates}

    assert regional.keys() == at_edge.keys()
    for label, candidate in regional.items():
        assert candidate.routing_overhead_ms == REGIONAL_PATH_PRIOR.p50_ms
        gap = REGIONAL_PATH_PRIOR.p50_ms - EDGE_PATH_PRIOR.p50_ms
        assert candidate.predicted_latency_ms - at_edge[label].predicted_latency_ms == (
            pytest.approx(gap, abs=0.02)
        )


def test_an_sla_the_routing_path_alone_exceeds_is_rejected_with_that_reason() -> None:
    # Given a 150 ms SLA: the regional path takes ~190 ms before any tier runs
    ctx = context({"sla": {"max_latency_ms": 150}})

    decision = route(ctx)

    # Then nothing is accepted as feasible, and the reason says why
    assert decision.primary is None
    assert set(rejections(decision).values()) == {"sla"}
    assert all("routing path ~190 ms" in r.detail for r in decision.rejected)
    assert "regional routing path alone takes ~190 ms" in decision.reason


def test_the_same_sla_is_met_on_the_edge_path() -> None:
    ctx = context({"sla": {"max_latency_ms": 150}})

    decision = route(ctx, snapshot(routing_overhead=EDGE_PATH_PRIOR))

    assert decision.primary is not None
    assert decision.primary.predicted_latency_ms <= 150
    assert "routing path" not in decision.reason


def test_a_learned_routing_overhead_changes_the_verdict() -> None:
    # Given recorded overheads: the regional path has run at ~60 ms p50
    learned = RoutingOverhead(path="regional", p50_ms=60, p95_ms=90, samples=50, source="learned")
    ctx = context({"sla": {"max_latency_ms": 150}})

    decision = route(ctx, snapshot(routing_overhead=learned))

    assert decision.primary is not None
    assert decision.primary.routing_overhead_ms == 60


def test_min_accuracy_keeps_only_accurate_models() -> None:
    # Only the cloud-class model is expected above 0.75 on an average prompt
    ctx = context({"sla": {"min_accuracy": 0.75}}, complexity=0.3)

    decision = route(ctx)

    assert labels(decision.candidates) == [CLOUD_LABEL]
    assert set(rejections(decision).values()) == {"accuracy"}


def test_min_accuracy_of_one_leaves_no_route() -> None:
    decision = route(context({"sla": {"min_accuracy": 1.0}}))

    assert decision.primary is None
    assert {r.constraint for r in decision.rejected} == {"accuracy"}


def test_zero_budget_removes_every_priced_candidate() -> None:
    decision = route(context({"sla": {"max_cost_usd": 0}}))

    assert decision.candidates
    assert all(c.predicted_cost_usd == 0 for c in decision.candidates)
    assert all(c.model_id == DEVICE_MODEL for c in decision.candidates)
    rejected = rejections(decision)
    assert rejected[CLOUD_LABEL] == "budget"
    assert rejected[f"mec/mec-a/{EDGE_SMALL}"] == "budget"
    assert rejected[f"mec/mec-a/{EDGE_LARGE}"] == "budget"


def test_predicted_cost_follows_registry_prices() -> None:
    ctx = context(
        {"sla": {"max_latency_ms": 20_000, "max_cost_usd": 1.0}},
        input_tokens=1000,
        output_tokens=1000,
    )
    cloud = model_spec(CLOUD_MODEL)

    decision = route(ctx, snapshot(nodes=[], models=[cloud]))

    expected = cloud.price_per_1k_input_usd + cloud.price_per_1k_output_usd
    assert decision.primary.predicted_cost_usd == pytest.approx(expected)


# -- health and device ---------------------------------------------------------------------------


def test_unhealthy_node_is_rejected_with_its_reason() -> None:
    sick = node_status("mec-a", healthy=False, unhealthy_reason="health probe failed")

    decision = route(context(), snapshot(nodes=[sick]))

    node_rejections = [r for r in decision.rejected if r.candidate.startswith("mec/mec-a/")]
    assert node_rejections
    assert {r.constraint for r in node_rejections} == {"health"}
    assert all(r.detail == "health probe failed" for r in node_rejections)
    assert all(c.node_id != "mec-a" for c in decision.candidates)


def test_unavailable_cloud_is_rejected_on_health() -> None:
    decision = route(context(), snapshot(cloud_available=False))

    assert rejections(decision)[CLOUD_LABEL] == "health"


def test_device_without_enough_memory_is_rejected() -> None:
    ctx = context({"device": {"memory_free_mb": 4}})

    decision = route(ctx)

    assert rejections(decision)[DEVICE_LABEL] == "device"
    assert all(c.tier != "device" for c in decision.candidates)


def test_device_on_low_battery_is_rejected_unless_charging() -> None:
    flat = route(context({"device": {"battery_pct": 5, "charging": False}}))
    plugged = route(context({"device": {"battery_pct": 5, "charging": True}}))

    assert rejections(flat)[DEVICE_LABEL] == "device"
    assert DEVICE_LABEL not in rejections(plugged)


def test_installed_device_model_is_predicted_faster_than_a_download() -> None:
    snap = snapshot(nodes=[], models=[model_spec(DEVICE_MODEL)])
    slow_link = {"bandwidth_mbps": 1}

    fresh = route(context({"network": slow_link}), snap).primary
    installed = route(
        context({"network": slow_link, "device": {"installed_models": [DEVICE_MODEL]}}), snap
    ).primary

    assert installed.predicted_latency_ms < fresh.predicted_latency_ms


# -- load balancing ------------------------------------------------------------------------------


def edge_small_only(nodes: list[NodeStatus]) -> ResourceSnapshot:
    return snapshot(nodes=nodes, models=[model_spec(EDGE_SMALL)])


def test_busier_node_ranks_below_an_identical_idle_node() -> None:
    # Given two identical nodes; "a" sorts first by name but is busier
    busy = node_status("a", utilisation=0.75, free_slots=1)
    idle = node_status("b", utilisation=0.0, free_slots=4)

    decision = route(context(), edge_small_only([busy, idle]))

    assert [c.node_id for c in decision.candidates] == ["b", "a"]
    assert decision.candidates[0].scores.availability > decision.candidates[1].scores.availability


def test_node_without_free_slots_ranks_lower_and_predicts_queueing() -> None:
    full = node_status("a", utilisation=1.0, free_slots=0, queue_depth=6)
    free = node_status("b", utilisation=0.0, free_slots=4)

    decision = route(context(), edge_small_only([full, free]))

    first, second = decision.candidates
    assert (first.node_id, second.node_id) == ("b", "a")
    assert second.predicted_latency_ms > first.predicted_latency_ms


def test_identical_nodes_tie_break_deterministically() -> None:
    snap = edge_small_only([node_status("b"), node_status("a")])

    first = route(context(), snap)
    second = route(context(), snap)

    assert first.candidates == second.candidates
    assert [c.node_id for c in first.candidates] == ["a", "b"]


def test_hot_model_is_preferred_over_loading_it_elsewhere() -> None:
    cold_node = node_status("a")
    hot_node = node_status("b", hot_models=[EDGE_LARGE])
    snap = snapshot(nodes=[cold_node, hot_node], models=[model_spec(EDGE_LARGE)])

    decision = route(context(), snap)

    assert decision.primary.node_id == "b"
    assert decision.primary.placement == "hot"
    assert decision.fallbacks[0].placement == "warm"
    assert decision.fallbacks[0].predicted_latency_ms > decision.primary.predicted_latency_ms


@pytest.mark.parametrize(
    ("samples", "winner"),
    [
        # "a" normally wins on name, but "b" has learned to be much faster
        (router.LEARNED_MIN_SAMPLES, "b"),
        # too few samples: the learned statistic is ignored
        (router.LEARNED_MIN_SAMPLES - 1, "a"),
    ],
    ids=["enough-samples-change-the-choice", "too-few-samples-are-ignored"],
)
def test_faster_learned_latency_changes_the_choice_only_with_enough_samples(
    samples: int, winner: str
) -> None:
    stat = TierStat(
        tier="mec",
        node_id="b",
        model_id=EDGE_SMALL,
        latency_ewma_ms=1.0,
        latency_p95_ms=2.0,
        success_rate=1.0,
        samples=samples,
    )
    snap = snapshot(nodes=[node_status("a"), node_status("b")], models=[model_spec(EDGE_SMALL)])

    decision = route(context(), snap.model_copy(update={"stats": [stat]}))

    assert decision.primary.node_id == winner


# -- the decision itself -------------------------------------------------------------------------


def test_candidates_are_primary_then_fallbacks() -> None:
    decision = route(context())

    assert decision.primary is not None
    assert decision.candidates == [decision.primary, *decision.fallbacks]


def test_at_most_max_fallbacks_plus_one_candidates() -> None:
    nodes = [node_status(f"n{i}") for i in range(4)]

    decision = route(context(), snapshot(nodes=nodes))

    assert len(decision.candidates) == router.MAX_FALLBACKS + 1
    assert len(decision.fallbacks) == router.MAX_FALLBACKS


def test_fallbacks_prefer_a_different_place_over_a_better_score() -> None:
    # Given one node serving three models, the device and the cloud
    decision = route(context(complexity=0.05))  # the MEC-class model leads
    primary = decision.primary
    same_place = [c for c in decision.fallbacks if place(c) == place(primary)]
    elsewhere = [c for c in decision.fallbacks if place(c) != place(primary)]

    # A second model on the primary's node outscores something elsewhere...
    assert same_place
    assert elsewhere
    assert max(c.score for c in same_place) > min(c.score for c in elsewhere)
    # ...yet every fallback elsewhere is tried before it
    position = decision.candidates.index
    assert all(position(e) < position(s) for e in elsewhere for s in same_place)


def test_distinct_places_come_first_each_group_ordered_by_score() -> None:
    decision = route(context(), snapshot(nodes=[node_status("a"), node_status("b")]))

    seen: set[tuple[str, str | None]] = set()
    firsts, repeats = [], []
    for c in decision.candidates:
        (repeats if place(c) in seen else firsts).append(c)
        seen.add(place(c))
    assert decision.candidates == firsts + repeats
    assert [c.score for c in firsts] == sorted((c.score for c in firsts), reverse=True)
    assert [c.score for c in repeats] == sorted((c.score for c in repeats), reverse=True)


def test_reason_mentions_the_primary_label_and_confidence_is_bounded() -> None:
    decision = route(context())

    assert decision.primary.label in decision.reason
    assert 0.0 <= decision.confidence <= 1.0
    assert decision.confidence > 0


def test_reason_counts_rejections_by_constraint() -> None:
    decision = route(context({"privacy": "strict", "device": {"memory_free_mb": 4}}))

    assert "device 1" in decision.reason
    assert "privacy 1" in decision.reason


def test_feasible_model_preference_narrows_the_choice() -> None:
    decision = route(context({"model_preference": EDGE_LARGE}))

    assert {c.model_id for c in decision.candidates} == {EDGE_LARGE}
    assert "preference" in set(rejections(decision).values())


def test_infeasible_model_preference_is_ignored() -> None:
    # The preferred cloud model is ruled out by strict privacy, so the caller still gets a route
    decision = route(context({"model_preference": CLOUD_MODEL, "privacy": "strict"}))

    assert decision.primary is not None
    assert "preference" not in set(rejections(decision).values())


def test_a_pinned_model_is_never_swapped_for_another_even_when_infeasible() -> None:
    pinned = {"model_preference": CLOUD_MODEL, "pin_model": True}

    allowed = route(context(pinned))
    refused = route(context({**pinned, "privacy": "strict"}))

    assert {c.model_id for c in allowed.candidates} == {CLOUD_MODEL}
    assert refused.primary is None
    assert set(rejections(refused).values()) == {"privacy", "preference"}


def test_empty_snapshot_yields_no_route() -> None:
    decision = route(context(), snapshot(nodes=[], models=[]))

    assert decision.primary is None
    assert decision.rejected == []
    assert "no candidates" in decision.reason


def test_enumerate_options_covers_each_tier_and_node() -> None:
    snap = snapshot(nodes=[node_status("a", hot_models=[EDGE_SMALL]), node_status("b")])

    options = {(o.label, o.placement) for o in router.enumerate_options(snap)}

    assert options == {
        (DEVICE_LABEL, "device"),
        (f"mec/a/{DEVICE_MODEL}", "warm"),
        (f"mec/b/{DEVICE_MODEL}", "warm"),
        (f"mec/a/{EDGE_SMALL}", "hot"),
        (f"mec/b/{EDGE_SMALL}", "warm"),
        (f"mec/a/{EDGE_LARGE}", "warm"),
        (f"mec/b/{EDGE_LARGE}", "warm"),
        (CLOUD_LABEL, "cold"),
    }


@pytest.mark.parametrize("complexity", [0.5, 0.75, 1.0])
def test_predicted_accuracy_ranks_the_frontier_model_highest(complexity: float) -> None:
    specs = {s.model_id: s for s in zoo_specs()}

    predicted = {m: predicted_accuracy(s, complexity) for m, s in specs.items()}

    assert max(predicted, key=predicted.__getitem__) == CLOUD_MODEL


def test_predicted_accuracy_mixes_easy_and_hard_figures_by_complexity() -> None:
    # complexity is P(the MEC-class model is wrong): 0 and 1 give the two measured figures
    for model in (model_spec(DEVICE_MODEL), model_spec(CLOUD_MODEL)):
        assert predicted_accuracy(model, 0.0) == pytest.approx(model.accuracy_easy)
        assert predicted_accuracy(model, 1.0) == pytest.approx(model.accuracy_hard)
        assert predicted_accuracy(model, 0.2) >= predicted_accuracy(model, 0.8)


def test_on_a_prompt_sure_to_be_easy_the_mec_class_model_beats_a_high_floor() -> None:
    # Given a prompt the MEC-class model is sure to get right and a floor the cloud misses
    ctx = context({"sla": {"min_accuracy": 0.95}}, complexity=0.0)

    # When it is routed
    decision = route(ctx)

    # Then the cloud and the device model are rejected on accuracy; MEC models serve it
    assert rejections(decision)[CLOUD_LABEL] == "accuracy"
    assert decision.primary is not None
    assert decision.primary.tier == "mec"
    assert all(c.model_id != "tinytext-device-v1" for c in decision.candidates)


def test_harder_prompts_lower_predicted_accuracy_more_for_weak_models() -> None:
    weak, strong = model_spec(DEVICE_MODEL), model_spec(CLOUD_MODEL)

    weak_drop = predicted_accuracy(weak, 0.1) - predicted_accuracy(weak, 0.9)
    strong_drop = predicted_accuracy(strong, 0.1) - predicted_accuracy(strong, 0.9)

    assert weak_drop > strong_drop > 0


# -- properties ----------------------------------------------------------------------------------

REGIONS = ["us-east-1", "eu-west-1"]
MODEL_IDS = [s.model_id for s in zoo_specs()]


def mostly(usual: Any, other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three draws in four take the usual value (or strategy), so feasible routes are common."""
    common = usual if isinstance(usual, st.SearchStrategy) else st.just(usual)
    return st.integers(0, 3).flatmap(lambda pick: common if pick else other)


@st.composite
def nodes_strategy(draw: st.DrawFn, max_nodes: int = 3) -> list[NodeStatus]:
    count = draw(st.integers(0, max_nodes))
    nodes = []
    for index in range(count):
        slots = draw(st.integers(1, 8))
        free = draw(st.integers(0, slots))
        nodes.append(
            node_status(
                f"n{index}",
                region=draw(st.sampled_from(REGIONS)),
                healthy=draw(mostly(True, st.just(False))),
                unhealthy_reason=draw(st.sampled_from(["", "saturated"])),
                slots=slots,
                free_slots=free,
                queue_depth=draw(st.integers(0, 16)),
                utilisation=(slots - free) / slots,
                speed_factor=draw(st.floats(0.25, 4)),
                site_rtt_ms=draw(st.floats(0, 50)),
                hot_models=draw(st.lists(st.sampled_from(MODEL_IDS), unique=True)),
            )
        )
    return nodes


@st.composite
def snapshots(draw: st.DrawFn, max_nodes: int = 3) -> ResourceSnapshot:
    nodes = draw(nodes_strategy(max_nodes))
    models = draw(
        mostly(
            zoo_specs(),
            st.lists(st.sampled_from(zoo_specs()), unique_by=lambda m: m.model_id),
        )
    )
    stats = [
        TierStat(
            tier="mec",
            node_id=node.node_id,
            model_id=model.model_id,
            latency_ewma_ms=draw(st.floats(1, 5000)),
            latency_p95_ms=5000.0,
            success_rate=draw(st.floats(0, 1)),
            samples=draw(st.integers(0, 20)),
        )
        for node in nodes
        for model in models
        if "mec" in model.tiers and draw(st.booleans())
    ]
    drawn = snapshot(
        nodes=nodes,
        models=models,
        cloud_available=draw(mostly(True, st.just(False))),
        cloud_region=draw(st.sampled_from(REGIONS)),
        backhaul_rtt_ms=draw(st.floats(0, 200)),
        stats=stats,
        routing_overhead=draw(st.sampled_from([REGIONAL_PATH_PRIOR, EDGE_PATH_PRIOR])),
    )
    # Some places' circuit breakers are open (refusing) or half-open (admitting)
    places = [
        (o.tier, o.node.node_id if o.node else "-", o.model.model_id)
        for o in router.enumerate_options(drawn)
    ]
    breakers = [
        breaker_view(tier, node_id, model_id, admits=draw(st.booleans()))
        for tier, node_id, model_id in places
        if draw(st.integers(0, 7)) == 0
    ]
    return drawn.model_copy(update={"breakers": breakers})


def breaker_view(tier: str, node_id: str, model_id: str, *, admits: bool) -> BreakerView:
    return BreakerView(
        breaker_key=f"{tier}#{node_id}#{model_id}",
        tier=tier,
        node_id=node_id,
        model_id=model_id,
        state="half_open" if admits else "open",
        admits=admits,
        reason="3 consecutive failures",
        consecutive_failures=3,
        cooldown_until=None,
        retry_in_s=0.0 if admits else 30.0,
        changed_at=0.0,
    )


@st.composite
def contexts(draw: st.DrawFn) -> ContextAnalysis:
    request = {
        "privacy": draw(st.sampled_from(["none", "none", "regional", "strict"])),
        "sla": {
            "max_latency_ms": draw(mostly(3000, st.integers(10, 20_000))),
            "min_accuracy": draw(mostly(0.0, st.floats(0, 1))),
            "max_cost_usd": draw(mostly(0.05, st.sampled_from([0, 0.00001, 0.0005, 0.002, 10.0]))),
        },
        "network": {
            "rtt_ms": draw(mostly(st.floats(0, 100), st.floats(0, 5000))),
            "bandwidth_mbps": draw(st.floats(0.1, 10_000)),
            "jitter_ms": draw(st.floats(0, 200)),
        },
        "device": {
            "memory_free_mb": draw(mostly(1024, st.integers(0, 64))),
            "battery_pct": draw(st.floats(0, 100)),
            "charging": draw(st.booleans()),
            "region": draw(st.sampled_from([None, *REGIONS])),
            "installed_models": draw(st.lists(st.sampled_from(MODEL_IDS), unique=True)),
        },
        "model_preference": draw(st.sampled_from([None, *MODEL_IDS])),
    }
    personal = draw(mostly([], st.just(["email"])))
    privacy = request["privacy"]
    effective = "regional" if personal and privacy == "none" else privacy
    return context(
        request,
        complexity=draw(st.floats(0, 1)),
        input_tokens=draw(mostly(st.integers(1, 300), st.integers(1, 4000))),
        output_tokens=draw(mostly(st.integers(0, 200), st.integers(0, 400))),
        device_score=draw(st.floats(0, 1)),
        personal_data=personal,
        effective_privacy=effective,
    )


property_settings = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@property_settings
@given(ctx=contexts(), snap=snapshots())
def test_strict_privacy_never_yields_a_cloud_candidate(
    ctx: ContextAnalysis, snap: ResourceSnapshot
) -> None:
    decision = route(ctx, snap)

    if ctx.effective_privacy == "strict":
        assert all(c.tier != "cloud" for c in decision.candidates)
    if ctx.effective_privacy == "regional" and ctx.request.device.region is None:
        assert all(c.tier != "cloud" for c in decision.candidates)


@property_settings
@given(ctx=contexts(), snap=snapshots())
def test_every_candidate_meets_the_hard_constraints(
    ctx: ContextAnalysis, snap: ResourceSnapshot
) -> None:
    sla = ctx.request.sla
    healthy = {n.node_id for n in snap.nodes if n.healthy}

    decision = route(ctx, snap)

    for c in decision.candidates:
        assert c.predicted_latency_ms <= sla.max_latency_ms
        assert c.predicted_latency_ms >= snap.routing_overhead.p50_ms
        assert c.predicted_cost_usd <= sla.max_cost_usd
        assert c.predicted_accuracy >= sla.min_accuracy
        if c.tier == "mec":
            assert c.node_id in healthy
        if c.tier == "cloud":
            assert snap.cloud.available


@property_settings
@given(ctx=contexts(), snap=snapshots())
def test_every_option_is_either_a_candidate_or_rejected(
    ctx: ContextAnalysis, snap: ResourceSnapshot
) -> None:
    options = [o.label for o in router.enumerate_options(snap)]

    decision = route(ctx, snap)

    rejected = [r.candidate for r in decision.rejected]
    chosen = labels(decision.candidates)
    assert len(set(rejected)) == len(rejected)
    assert len(set(chosen)) == len(chosen)
    assert not set(rejected) & set(chosen)
    assert set(rejected) | set(chosen) <= set(options)
    feasible = len(options) - len(rejected)
    assert len(chosen) == min(router.MAX_FALLBACKS + 1, feasible)


@property_settings
@given(ctx=contexts(), snap=snapshots())
def test_decision_is_internally_consistent(ctx: ContextAnalysis, snap: ResourceSnapshot) -> None:
    decision = route(ctx, snap)

    assert decision.candidates == (
        [decision.primary, *decision.fallbacks] if decision.primary else []
    )
    assert 0.0 <= decision.confidence <= 1.0
    if decision.primary is None:
        assert decision.confidence == 0.0
    else:
        primary = decision.primary
        probing = {(b.tier, b.node_id, b.model_id) for b in snap.breakers if b.admits
                   and b.state == "half_open"}  # fmt: skip
        if (primary.tier, primary.node_id or "-", primary.model_id) not in probing:
            # (a half-open breaker's one probe goes first, whatever its score)
            assert primary.score == max(c.score for c in decision.candidates)
        assert decision.primary.label in decision.reason
        assert all(0.0 <= c.score <= 1.0 for c in decision.candidates)
