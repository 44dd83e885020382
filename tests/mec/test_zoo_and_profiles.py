"""The model zoo as `mecroute build-zoo` writes it, and the site profiles' network figures."""

from __future__ import annotations

import hashlib
import json
import random
import statistics
from pathlib import Path

import onnx
import pytest

from mecroute.domain.registry import ModelSpec
from mecroute.local.cli import main as mecroute
from mecroute.local.fleet import node_arguments
from mecroute.mec.profiles import ACCESS_NETWORKS, PROFILES, AccessNetwork
from mecroute.mec.zoo import build_zoo


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zoo")
    assert mecroute(["build-zoo", "--out", str(out)]) == 0
    return out


def registry(zoo_dir: Path) -> list[ModelSpec]:
    models = json.loads((zoo_dir / "registry.json").read_text())["models"]
    return [ModelSpec.model_validate(model) for model in models]


def multiply_adds(path: Path) -> int:
    """Compute per request: the MatMul weights' sizes (one multiply-add per weight)."""
    graph = onnx.load(str(path)).graph
    return sum(int(t.dims[0]) * int(t.dims[1]) for t in graph.initializer)


def test_every_registry_entry_describes_its_artifact(zoo_dir: Path) -> None:
    specs = registry(zoo_dir)

    assert {tier for spec in specs for tier in spec.tiers} == {"device", "mec", "cloud"}
    for spec in specs:
        artifact = (zoo_dir / spec.artifact_key).read_bytes()
        assert hashlib.sha256(artifact).hexdigest() == spec.sha256
        assert spec.size_mb == round(len(artifact) / 1e6, 3)
        assert set(spec.measured_latency_ms) == set(spec.tiers)
        assert all(ms > 0 for ms in spec.measured_latency_ms.values())
        assert spec.use_cases
        assert spec.accuracy_source
        assert spec.version == "1"


def test_compute_grows_with_declared_size(zoo_dir: Path) -> None:
    specs = sorted(registry(zoo_dir), key=lambda spec: spec.size_mb)

    work = [multiply_adds(zoo_dir / spec.artifact_key) for spec in specs]

    assert work == sorted(work)
    assert len(set(work)) == len(work)
    assert [spec.tiers[0] for spec in (specs[0], specs[-1])] == ["device", "cloud"]


def test_a_changed_artifact_on_disk_is_rebuilt_not_trusted(zoo_dir: Path) -> None:
    spec = registry(zoo_dir)[0]
    path = zoo_dir / spec.artifact_key
    path.write_bytes(b"not a model")

    rebuilt = dict((s.model_id, p) for s, p in build_zoo(zoo_dir))

    assert hashlib.sha256(rebuilt[spec.model_id].read_bytes()).hexdigest() == spec.sha256


class FixedDraw(random.Random):
    """An rng whose every uniform draw is `u`: reads the emulated RTT's quantile function."""

    def __init__(self, u: float) -> None:
        super().__init__()
        self.u = u

    def random(self) -> float:
        return self.u


@pytest.mark.parametrize("network", ACCESS_NETWORKS.values(), ids=list(ACCESS_NETWORKS))
def test_emulated_round_trips_keep_the_published_quantiles(network: AccessNetwork) -> None:
    def quantile(u: float) -> float:
        return network.draw_rtt_ms(FixedDraw(u))

    assert quantile(0.5) == pytest.approx(network.median_ms)
    assert quantile(0.95) == pytest.approx(network.p95_ms)
    assert quantile(0.99) == pytest.approx(network.p99_ms)
    draws = [network.draw_rtt_ms(random.Random(seed)) for seed in range(2000)]
    assert statistics.median(draws) == pytest.approx(network.median_ms, rel=0.1)
    assert min(draws) > 0


def test_the_fleet_starts_a_named_profile_with_nothing_but_its_name() -> None:
    for name, profile in PROFILES.items():
        assert node_arguments(profile) == ["--profile", name, "--node-id", profile.node_id]
    assert len(PROFILES) >= 3
