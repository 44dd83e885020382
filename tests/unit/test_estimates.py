"""The shared estimates: each formula once, read the same way by router, execute and nodes."""

from __future__ import annotations

import math

import pytest

from mecroute.agents import learning
from mecroute.domain import estimates
from mecroute.domain.estimates import REGIONAL_PATH_PRIOR, RoutingOverhead
from mecroute.domain.request import DeviceTelemetry, NetworkConditions

from .builders import CLOUD_MODEL, DEVICE_MODEL, EDGE_SMALL, model_spec


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("a", 1), ("abcd", 1), ("abcde", 2), ("a" * 400, 100), ("你好世界", 4)],
)
def test_token_estimate(text: str, tokens: int) -> None:
    assert estimates.estimate_tokens(text) == tokens


def test_compute_time_scales_with_tokens_and_speed_above_a_floor() -> None:
    assert estimates.compute_time_ms(40.0, 100, 1.0) == pytest.approx(40.0)
    assert estimates.compute_time_ms(40.0, 200, 2.0) == pytest.approx(40.0)
    # A tiny request still costs a quarter of the reference time.
    assert estimates.compute_time_ms(40.0, 1, 1.0) == pytest.approx(10.0)


def test_device_fetch_is_free_only_when_installed() -> None:
    model = model_spec(DEVICE_MODEL)
    network = NetworkConditions(bandwidth_mbps=8.0)
    missing = DeviceTelemetry(installed_models=[])
    installed = DeviceTelemetry(installed_models=[DEVICE_MODEL])
    assert estimates.device_fetch_ms(model, installed, network) == 0.0
    assert estimates.device_fetch_ms(model, missing, network) == pytest.approx(model.size_mb * 1000)


def test_device_speed_runs_from_a_weak_phone_to_reference() -> None:
    assert estimates.device_speed(0.0) == pytest.approx(0.2)
    assert estimates.device_speed(1.0) == pytest.approx(1.0)


def test_cost_reads_both_prices() -> None:
    cloud = model_spec(CLOUD_MODEL)
    expected = (1000 * cloud.price_per_1k_input_usd + 2000 * cloud.price_per_1k_output_usd) / 1000
    assert estimates.cost_usd(cloud, 1000, 2000) == pytest.approx(expected)
    assert expected > 0


def test_a_warm_load_grows_with_the_artifact() -> None:
    small = model_spec(EDGE_SMALL, size_mb=10.0)
    large = model_spec(EDGE_SMALL, size_mb=200.0)
    assert estimates.warm_load_ms(small) == pytest.approx(estimates.LOAD_FIXED_MS + 100.0)
    assert estimates.warm_load_ms(large) > estimates.warm_load_ms(small)


def learned(samples: int, path: estimates.RoutingPath = "regional") -> RoutingOverhead:
    return RoutingOverhead(path=path, p50_ms=80, p95_ms=120, samples=samples, source="learned")


def test_the_routing_path_prior_holds_until_enough_overheads_are_recorded() -> None:
    floor = estimates.LEARNED_MIN_SAMPLES
    assert estimates.routing_overhead("regional", None) == REGIONAL_PATH_PRIOR
    assert estimates.routing_overhead("regional", learned(floor - 1)) == REGIONAL_PATH_PRIOR
    assert estimates.routing_overhead("regional", learned(floor)) == learned(floor)
    # Another path's record never stands in for this one's.
    assert estimates.routing_overhead("edge", learned(floor)) == estimates.EDGE_PATH_PRIOR


def test_the_regional_prior_is_the_published_estimate() -> None:
    assert (REGIONAL_PATH_PRIOR.p50_ms, REGIONAL_PATH_PRIOR.p95_ms) == (190.0, 270.0)
    assert REGIONAL_PATH_PRIOR.source == "prior"


def test_end_to_end_adds_medians_and_widens_with_the_path() -> None:
    median, sigma = estimates.end_to_end(100.0, 0.3, REGIONAL_PATH_PRIOR)
    assert median == pytest.approx(290.0)
    tier_p95 = 100.0 * math.exp(estimates.Z95 * 0.3)
    assert median * math.exp(estimates.Z95 * sigma) == pytest.approx(tier_p95 + 270.0)


@pytest.mark.parametrize(("ewma_ms", "p95_ms"), [(100.0, 100.0), (100.0, 90.0), (0.0, 50.0)])
def test_a_place_that_shows_no_spread_keeps_the_prior_spread(ewma_ms: float, p95_ms: float) -> None:
    assert estimates.latency_sigma(ewma_ms, p95_ms) == estimates.DEFAULT_LATENCY_SIGMA


def test_a_learned_spread_adds_to_the_predictions_own_in_log_variance() -> None:
    place = math.log(3.0) / estimates.Z95  # p95 three times the mean
    sigma = estimates.latency_sigma(100.0, 300.0)
    assert sigma**2 == pytest.approx(place**2 + estimates.DEFAULT_LATENCY_SIGMA**2)
    narrow, wide = estimates.latency_sigma(100.0, 110.0), estimates.latency_sigma(100.0, 200.0)
    assert estimates.DEFAULT_LATENCY_SIGMA < narrow < wide < sigma


def test_recorded_overheads_move_the_learned_median_and_p95_towards_them() -> None:
    overhead = None
    for _ in range(400):
        overhead = learning.fold_routing_overhead(overhead, "regional", 120.0)
    assert overhead is not None
    assert overhead.source == "learned"
    assert overhead.samples == 400
    assert overhead.p50_ms == pytest.approx(120.0, abs=6.0)
    assert overhead.p95_ms >= overhead.p50_ms
    slower = learning.fold_routing_overhead(overhead, "regional", 500.0)
    assert slower.p50_ms > overhead.p50_ms
    assert slower.p95_ms > overhead.p95_ms


def test_queue_wait_is_nothing_while_a_slot_is_free() -> None:
    assert estimates.queue_wait_ms(1, 0, 4, service_ms=800.0, own_ms=50.0) == 0.0


def test_queue_wait_drains_the_requests_ahead_at_the_nodes_measured_service_rate() -> None:
    """Four slots, six queued: this request is the seventh in line. The requests ahead hold a
    slot 800 ms on average (long prompts), far longer than this short one's 50 ms."""
    measured = estimates.queue_wait_ms(0, 6, 4, service_ms=800.0, own_ms=50.0)
    assumed = estimates.queue_wait_ms(0, 6, 4, service_ms=None, own_ms=50.0)

    assert measured == pytest.approx(7 / 4 * 800.0)
    assert assumed == pytest.approx(7 / 4 * 50.0)  # a node that reports no service time
