"""The shared estimates: each formula once, read the same way by router, execute and nodes."""

from __future__ import annotations

import pytest

from mecroute.domain import estimates
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
