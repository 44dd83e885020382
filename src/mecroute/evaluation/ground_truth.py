"""The simulator's ground truth: how fast models, nodes and networks really are in one seeded world.

The deliberate second copy of the registry's facts (STYLE.md): drawn per seed *around* the
registry's and the site profiles' priors, never equal to them, with its own compute formula.
No agent imports this module, so the router learns the truth only through the learning loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mecroute.domain.registry import ModelSpec
from mecroute.mec.profiles import SiteProfile

# The router's prior for the round trip between the radio network and the region
# (`CloudStatus.backhaul_rtt_ms` in the simulator's snapshot); the truth is drawn around it.
REGION_BACKHAUL_PRIOR_MS = 60.0
# Bedrock called from a Lambda in the same region: an assumption (no published figure found).
IN_REGION_HOP_PRIOR_MS = 5.0
# Between two MEC sites through the operator's metro aggregation: an assumption.
METRO_HOP_PRIOR_MS = 6.0
# A node answering a gateway on the same site's LAN.
SITE_LAN_MS = 0.5
# Answers are this many tokens at the median (the router estimates its own figure per prompt).
OUTPUT_TOKENS_MEDIAN = 64


@dataclass(frozen=True)
class Spread:
    """How far the truth strays from the priors: lognormal sigmas and an accuracy s.d."""

    latency_sigma: float = 0.3  # a model's true compute against its registry figure
    speed_sigma: float = 0.25  # a node's true speed against its profile
    network_sigma: float = 0.3  # backhaul and site round trips against their priors
    accuracy_sd: float = 0.06  # modelled accuracies (measured outcomes stay measured)
    request_noise_sigma: float = 0.2  # request to request, the same place


@dataclass(frozen=True)
class ModelTruth:
    """How a model really computes: `factor` x (fixed + per-token) at speed 1, and its accuracy."""

    factor: float
    fixed_share: float  # part of the 100-token figure paid whatever the length
    accuracy_easy: float
    accuracy_hard: float


@dataclass(frozen=True)
class SiteTruth:
    """A MEC site as it really is: its node's speed, its distances and its other tenants."""

    speed_factor: float
    site_rtt_ms: float  # the radio edge to this site
    region_rtt_ms: float  # this site to the region and back
    background_share: float  # at most this share of slots goes to other tenants
    background_period_s: float
    background_phase: float


@dataclass(frozen=True)
class GroundTruth:
    """One seeded world's facts. Build it with `draw`; tests may `dataclasses.replace` it."""

    seed: int
    models: dict[str, ModelTruth]
    sites: dict[str, SiteTruth]  # keyed by node id
    device_speed: float  # true on-device speed against the router's device-score formula
    in_region_hop_ms: float
    metro_hop_ms: float
    spread: Spread = field(default_factory=Spread)

    @classmethod
    def draw(
        cls,
        seed: int,
        models: list[ModelSpec],
        sites: tuple[SiteProfile, ...],
        spread: Spread | None = None,
    ) -> GroundTruth:
        spread = spread or Spread()
        rng = np.random.default_rng([seed, 0x7A07])

        def around(prior: float, sigma: float) -> float:
            return float(prior * math.exp(sigma * rng.standard_normal()))

        def accuracy(prior: float, measured: bool) -> float:
            if measured:  # its outcomes come from the data; this figure is unused
                return prior
            return float(min(1.0, max(0.0, prior + spread.accuracy_sd * rng.standard_normal())))

        truths = {
            m.model_id: ModelTruth(
                factor=around(1.0, spread.latency_sigma),
                fixed_share=float(rng.uniform(0.1, 0.4)),
                accuracy_easy=accuracy(m.accuracy_easy, m.outcome_reference is not None),
                accuracy_hard=accuracy(m.accuracy_hard, m.outcome_reference is not None),
            )
            for m in models
        }
        site_truths = {
            p.node_id: SiteTruth(
                speed_factor=around(p.speed_factor, spread.speed_sigma),
                site_rtt_ms=around(max(p.site_rtt_ms, 0.5), spread.network_sigma),
                region_rtt_ms=around(REGION_BACKHAUL_PRIOR_MS, spread.network_sigma),
                background_share=float(rng.uniform(0.2, 0.6)),
                background_period_s=float(rng.uniform(60.0, 240.0)),
                background_phase=float(rng.uniform(0, 2 * math.pi)),
            )
            for p in sites
        }
        return cls(
            seed=seed,
            models=truths,
            sites=site_truths,
            device_speed=around(1.0, spread.speed_sigma),
            in_region_hop_ms=around(IN_REGION_HOP_PRIOR_MS, spread.network_sigma),
            metro_hop_ms=around(METRO_HOP_PRIOR_MS, spread.network_sigma),
            spread=spread,
        )

    def compute_ms(
        self, model: ModelSpec, tokens: int, speed: float, rng: np.random.Generator
    ) -> float:
        """True compute: a fixed part plus a part linear in tokens (the router's formula has a
        floor at 25 tokens instead), scaled by the model's true factor, with request noise."""
        truth = self.models[model.model_id]
        shape = truth.fixed_share + (1 - truth.fixed_share) * tokens / 100
        noise = math.exp(self.spread.request_noise_sigma * rng.standard_normal())
        return model.latency_ms * truth.factor * shape / speed * noise

    def output_tokens(self, job_index: int) -> int:
        """How long this job's answer really is, wherever it runs."""
        draw = np.random.default_rng([self.seed, job_index, 0x70]).standard_normal()
        return max(1, int(OUTPUT_TOKENS_MEDIAN * math.exp(0.5 * draw)))

    def background_slots(self, node_id: str, slots: int, now_s: float) -> int:
        """Other tenants' load: a slow wave that takes up to `background_share` of the slots."""
        site = self.sites[node_id]
        wave = 0.5 * (
            1 + math.sin(2 * math.pi * now_s / site.background_period_s + site.background_phase)
        )
        return int(slots * site.background_share * wave)

    def correct(
        self,
        model: ModelSpec,
        mec_correct: bool,
        cloud_correct: bool,
        rng: np.random.Generator,
    ) -> bool:
        """Measured outcomes where the model has a reference column; drawn from this world's
        easy/hard accuracies otherwise ("easy": the MEC-class reference got it right)."""
        if model.outcome_reference == "cloud-class":
            return cloud_correct
        if model.outcome_reference == "mec-class":
            return mec_correct
        truth = self.models[model.model_id]
        chance = truth.accuracy_easy if mec_correct else truth.accuracy_hard
        return bool(rng.random() < chance)

    def describe(self) -> dict[str, object]:
        """The drawn facts, for the report (so a reader sees how far they are from the priors)."""
        return {
            "seed": self.seed,
            "model_latency_factor": {k: round(v.factor, 3) for k, v in self.models.items()},
            "node_speed_factor": {k: round(v.speed_factor, 3) for k, v in self.sites.items()},
            "site_to_region_rtt_ms": {k: round(v.region_rtt_ms, 1) for k, v in self.sites.items()},
            "device_speed": round(self.device_speed, 3),
        }
