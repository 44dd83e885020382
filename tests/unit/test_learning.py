"""The learning loop: outcome and feedback events folded into per-place statistics."""

import pytest

from mecroute.agents import aggregator, learning
from mecroute.domain.estimates import LEARNED_MIN_SAMPLES, RoutingOverhead
from mecroute.domain.events import STREAM_EVENT, FeedbackEvent, OutcomeEvent
from mecroute.domain.messages import TierStat


def outcome(latency_ms: float | None, success: bool = True, request_id: str = "r") -> OutcomeEvent:
    return OutcomeEvent(
        event_id=f"{request_id}:0",
        request_id=request_id,
        tier="mec",
        node_id="n1",
        model_id="m",
        success=success,
        latency_ms=latency_ms,
        at=0.0,
    )


def feedback(rating: int, correct: bool | None) -> FeedbackEvent:
    return FeedbackEvent(
        request_id="r",
        user_id="u",
        tier="mec",
        node_id="n1",
        model_id="m",
        rating=rating,
        correct=correct,
        observed_latency_ms=None,
        at=0.0,
    )


def fold_all(events: list[OutcomeEvent]) -> TierStat:
    stat = None
    for event in events:
        stat = learning.fold(stat, event)
    assert stat is not None
    return stat


def test_ewma_follows_a_level_shift_and_p95_sits_above_the_mean():
    steady = fold_all([outcome(100.0)] * 30)
    assert steady.latency_ewma_ms == pytest.approx(100.0)

    shifted = steady
    for _ in range(30):
        shifted = learning.fold(shifted, outcome(300.0))
    assert shifted.latency_ewma_ms == pytest.approx(300.0, rel=0.01)
    assert shifted.samples == 60
    assert shifted.revision == 60

    noisy = fold_all([outcome(v) for v in [100, 120, 80, 400, 110, 90, 105, 95] * 20])
    assert noisy.latency_p95_ms > noisy.latency_ewma_ms


def test_failures_lower_the_success_rate_and_recoveries_raise_it():
    failing = fold_all([outcome(100.0)] * 5 + [outcome(None, success=False)] * 5)
    assert failing.success_rate < 0.4
    recovered = failing
    for _ in range(10):
        recovered = learning.fold(recovered, outcome(100.0))
    assert recovered.success_rate > 0.85


def test_a_node_slower_than_predicted_is_flagged_as_drifting():
    stat = fold_all([outcome(400.0)] * 10)
    assert learning.is_drifting(stat, predicted_latency_ms=150.0)
    assert not learning.is_drifting(stat, predicted_latency_ms=350.0)
    assert not learning.is_drifting(fold_all([outcome(400.0)] * 2), predicted_latency_ms=150.0)


def test_drift_needs_the_same_sample_floor_as_any_learned_statistic():
    at_floor = fold_all([outcome(400.0)] * LEARNED_MIN_SAMPLES)
    below = fold_all([outcome(400.0)] * (LEARNED_MIN_SAMPLES - 1))
    assert learning.is_drifting(at_floor, predicted_latency_ms=150.0)
    assert not learning.is_drifting(below, predicted_latency_ms=150.0)


def test_feedback_moves_answer_quality_not_latency():
    base = fold_all([outcome(100.0)] * 5)
    wrong = feedback(5, correct=False)
    after = learning.fold_feedback(base, wrong)
    assert after.quality < base.quality
    assert after.quality_samples == 1
    assert after.latency_ewma_ms == base.latency_ewma_ms
    assert learning.feedback_quality(feedback(1, correct=None)) == 0.0
    assert learning.feedback_quality(feedback(5, correct=None)) == 1.0


class MemoryStatsWriter:
    def __init__(self) -> None:
        self.items: dict[str, TierStat] = {}
        self.overheads: dict[str, RoutingOverhead] = {}
        self.conflicts_left = 0

    def get(self, stat_key: str) -> TierStat | None:
        return self.items.get(stat_key)

    def put_if_unchanged(self, stat_key, stat, expected_revision) -> bool:
        if self.conflicts_left:
            self.conflicts_left -= 1
            return False
        current = self.items.get(stat_key)
        if (current.revision if current else None) != expected_revision:
            return False
        self.items[stat_key] = stat
        return True

    def get_overhead(self, path):
        return self.overheads.get(path)

    def put_overhead_if_unchanged(self, overhead, expected_samples) -> bool:
        current = self.overheads.get(overhead.path)
        if (current.samples if current else None) != expected_samples:
            return False
        self.overheads[overhead.path] = overhead
        return True


def test_aggregator_learns_the_routing_overhead_of_requests_without_fallbacks():
    store = MemoryStatsWriter()
    clean = outcome(50.0).model_copy(update={"routing_overhead_ms": 180.0})
    after_a_fallback = clean.model_copy(update={"routing_overhead_ms": 900.0, "fallbacks": 1})

    aggregator.apply(clean, store)
    aggregator.apply(after_a_fallback, store)

    learned = store.overheads["regional"]
    assert (learned.source, learned.samples, learned.p50_ms) == ("learned", 1, 180.0)


def test_an_edge_gateways_overhead_is_learned_apart_from_the_regional_paths():
    store = MemoryStatsWriter()
    regional = outcome(50.0).model_copy(update={"routing_overhead_ms": 180.0})
    edge = regional.model_copy(
        update={"event_id": "edge-1:0", "routing_overhead_ms": 3.0, "routing_path": "edge"}
    )

    aggregator.apply(regional, store)
    aggregator.apply(edge, store)

    assert store.overheads["regional"].p50_ms == 180.0
    assert (store.overheads["edge"].p50_ms, store.overheads["edge"].samples) == (3.0, 1)


def test_aggregator_learns_outcomes_and_feedback_and_skips_the_rest():
    store = MemoryStatsWriter()
    aggregator.apply(outcome(120.0), store)
    aggregator.apply(feedback(2, correct=None), store)
    rejection = STREAM_EVENT.validate_python(
        {"kind": "rejection", "event_id": "r:0", "request_id": "r", "error": "X", "at": 0}
    )
    assert aggregator.apply(rejection, store) is None
    replay = outcome(10.0).model_copy(update={"kind": "replay"})
    assert aggregator.apply(replay, store) is None

    (stat,) = store.items.values()
    assert stat.samples == 1
    assert stat.quality_samples == 1
    assert stat.quality == pytest.approx(0.25)


def test_aggregator_retries_a_contended_write_then_gives_up_loudly():
    store = MemoryStatsWriter()
    store.conflicts_left = 2
    assert aggregator.apply(outcome(50.0), store) is not None

    store.conflicts_left = aggregator.MAX_WRITE_ATTEMPTS
    with pytest.raises(aggregator.StatConflict):
        aggregator.apply(outcome(50.0, request_id="another"), store)


def test_a_redelivered_event_is_folded_in_once():
    """Kinesis delivers at least once: 381 requests with 6 exact duplicates among them teach
    381 samples, the routing overhead included, and caller feedback counts once too."""
    store = MemoryStatsWriter()
    events = [
        outcome(50.0 + n, request_id=f"req-{n}").model_copy(update={"routing_overhead_ms": 180.0})
        for n in range(381)
    ]
    # Each duplicate comes as a retried batch would bring it: up to a batch (100) later.
    redelivered_after = {0: 0, 7: 50, 99: 100, 100: 199, 250: 300, 379: 380}
    stream = []
    for n, event in enumerate(events):
        stream.append(event)
        stream.extend(events[k] for k, after in redelivered_after.items() if after == n)
    verdict = feedback(5, correct=True)

    learned = [aggregator.apply(event, store) for event in stream]
    aggregator.apply(verdict, store)
    aggregator.apply(verdict, store)

    (stat,) = store.items.values()
    assert len(stream) == 387
    assert stat.samples == 381
    assert stat.quality_samples == 1
    assert store.overheads["regional"].samples == 381
    assert learned.count(None) == 6


def test_the_event_ids_remembered_stay_out_of_every_message():
    """The de-duplication window lives in the stats table, never in a snapshot or payload."""
    store = MemoryStatsWriter()
    stat = aggregator.apply(outcome(50.0), store)
    assert stat is not None
    assert stat.recent_events == ("r:0",)
    assert "recent_events" not in stat.model_dump(mode="json")
    overhead = RoutingOverhead(path="regional", p50_ms=1, p95_ms=1, recent_events=("r:0",))
    assert "recent_events" not in overhead.model_dump(mode="json")
