"""The world can disagree with the router: a node whose profile says fast but is truly slow is
learned through the (delayed) learning loop, and the adaptive router moves off it."""

from dataclasses import replace

import pytest

from mecroute.evaluation import workload
from mecroute.evaluation.control_plane import edge_path
from mecroute.evaluation.ground_truth import GroundTruth
from mecroute.evaluation.simulate import Simulation
from mecroute.mec.profiles import DEFAULT_SITES

SLOW = "mec-venue-1"  # its profile advertises the fastest node (speed 1.5)


@pytest.fixture(scope="module")
def runs(models):
    jobs, _ = workload.build(600, 1, None)
    truth = GroundTruth.draw(1, models, DEFAULT_SITES)
    secretly_slow = replace(
        truth, sites={**truth.sites, SLOW: replace(truth.sites[SLOW], speed_factor=0.15)}
    )
    simulation = Simulation(jobs, models, 1, None, truth=secretly_slow, incidents=False)
    return {name: simulation.run(name, edge_path()) for name in ("adaptive", "static-weights")}


def share_on_slow(outcomes) -> float:
    return sum(o.node_id == SLOW for o in outcomes) / len(outcomes)


def test_the_router_believes_the_profile_at_first(runs):
    # Given a prior that says fast, the router sends the node its share of traffic.
    assert share_on_slow(runs["adaptive"].outcomes[:150]) > 0.05


def test_the_learning_loop_corrects_the_wrong_prior(runs):
    first, last = runs["adaptive"].outcomes[:150], runs["adaptive"].outcomes[-150:]
    assert share_on_slow(last) < share_on_slow(first) / 2


def test_without_learning_the_router_keeps_trusting_the_prior(runs):
    learned = share_on_slow(runs["adaptive"].outcomes[-150:])
    assert learned < share_on_slow(runs["static-weights"].outcomes[-150:])


def test_requests_the_router_predicts_on_time_arrive_late_on_the_regional_path(models):
    # The router rejects every place it predicts over the SLA, so whatever `adaptive` serves in
    # the 300 ms class it predicted on time; the world charges the pipeline and the region hops.
    jobs, _ = workload.build(200, 2, None)
    simulation = Simulation(jobs, models, 2, None)
    accepted = [
        o for o in simulation.run("adaptive").outcomes if o.served and o.sla_class == "interactive"
    ]

    assert len(accepted) > 20
    assert sum(o.sla_met for o in accepted) / len(accepted) < 0.2
