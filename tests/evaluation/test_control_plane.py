"""Routing's own time is charged: the regional pipeline's published figures, the client's trip to
the region, and the directive's round trip for the device tier."""

import numpy as np
import pytest

from mecroute.evaluation import workload
from mecroute.evaluation.control_plane import REGIONAL, edge_path, regional_path
from mecroute.evaluation.simulate import Simulation


def test_the_regional_overhead_matches_the_published_figures():
    path = regional_path()
    rng = np.random.default_rng(1)
    draws = np.array([path.overhead_ms(rng) for _ in range(4000)])

    published_p50 = sum(c.p50_ms * c.count for c in REGIONAL)
    assert 180 <= published_p50 <= 200  # the design's ~190 ms before any tier runs
    # Medians do not add: the sum of skewed parts has its median above the sum of theirs.
    assert published_p50 < np.median(draws) < 1.25 * published_p50
    assert (
        1.15 * np.median(draws)
        < np.quantile(draws, 0.95)
        < sum(c.p95_ms * c.count for c in REGIONAL)
    )
    assert all(c.source for c in REGIONAL)


def test_the_edge_gateway_charges_its_overhead_figure():
    rng = np.random.default_rng(2)
    draws = [edge_path(3.0).overhead_ms(rng) for _ in range(2000)]

    assert np.median(draws) == pytest.approx(3.0, rel=0.1)
    assert edge_path().fallback_ms(rng) == 0.0


@pytest.fixture(scope="module")
def device_runs(models):
    jobs, _ = workload.build(150, 21, None)
    simulation = Simulation(jobs, models, 21, None)
    return (
        jobs,
        simulation,
        simulation.run("device", regional_path()),
        simulation.run("device", edge_path()),
    )


def test_an_always_device_policy_pays_the_directive_round_trip_on_the_regional_path(device_runs):
    jobs, _simulation, regional, edge = device_runs
    served = [(r, e) for r, e in zip(regional.outcomes, edge.outcomes, strict=True) if r.served]
    assert served
    for on_region, at_edge in served:
        job = jobs[on_region.job]
        # The device runs the same model as fast either way ...
        assert on_region.execution_ms == pytest.approx(at_edge.execution_ms)
        # ... but first fetches its directive: the pipeline's time and the trip to the region.
        assert on_region.routing_overhead_ms > 100
        assert on_region.transit_ms >= job.request.network.rtt_ms
        assert on_region.end_to_end_ms == pytest.approx(
            on_region.routing_overhead_ms + on_region.transit_ms + on_region.execution_ms
        )
        # The difference between the paths is exactly their routing time and the client's trip.
        assert on_region.end_to_end_ms - at_edge.end_to_end_ms == pytest.approx(
            on_region.routing_overhead_ms
            + on_region.transit_ms
            - at_edge.routing_overhead_ms
            - at_edge.transit_ms
        )
        assert on_region.transit_ms > at_edge.transit_ms


def test_the_sla_is_judged_end_to_end(device_runs):
    _, _, regional, _ = device_runs
    late = [
        o for o in regional.outcomes if o.served and o.execution_ms <= o.sla_ms < o.end_to_end_ms
    ]
    assert late, "some answers are fast on the device yet late for the caller"
    assert not any(o.sla_met for o in late)
