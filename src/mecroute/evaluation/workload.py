"""Workloads for the simulator: prompts with known outcomes, SLAs, privacy and network draws.

Network round trips are drawn from published measurements (see docs/DESIGN figures):
5G vehicle-to-edge median 18 ms / p95 32 ms; commercial 5G/LTE median 75 ms / p95 137 ms;
Wi-Fi under 5 ms. Device-tier correctness is modelled (no device model was evaluated on the
data) from the registry's easy/hard accuracies; see `World`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecroute.domain.request import InferenceRequest
from mecroute.evaluation.dataset import Labelled, read

Z95 = 1.645


@dataclass(frozen=True)
class RadioProfile:
    name: str
    share: float
    rtt_median_ms: float
    rtt_p95_ms: float
    bandwidth_mbps: float

    def draw_rtt(self, rng: np.random.Generator) -> float:
        sigma = math.log(self.rtt_p95_ms / self.rtt_median_ms) / Z95
        return float(self.rtt_median_ms * math.exp(sigma * rng.standard_normal()))


RADIO_PROFILES = (
    RadioProfile("5g", 0.4, 18.0, 32.0, 100.0),  # 5G vehicle-to-edge
    RadioProfile("lte", 0.4, 75.0, 137.0, 30.0),  # commercial 5G/LTE
    RadioProfile("wifi", 0.2, 3.0, 5.0, 200.0),
)
# (name, share, max latency ms): interactive, standard and relaxed callers.
SLA_CLASSES = (("interactive", 0.35, 300), ("standard", 0.45, 1200), ("relaxed", 0.2, 4000))
PRIVACY_MIX = (("none", 0.75), ("regional", 0.15), ("strict", 0.10))


@dataclass(frozen=True)
class Job:
    index: int
    arrival_s: float
    request: InferenceRequest
    sla_class: str
    subject: str
    mec_correct: bool
    cloud_correct: bool


def build(
    count: int, seed: int, data_dir: Path | None, rate_per_s: float = 20.0
) -> tuple[list[Job], str]:
    """`count` jobs and a label saying where the prompts and their outcomes come from."""
    rng = np.random.default_rng(seed)
    if data_dir is not None:
        pool = read(data_dir, "test")
        source = f"{data_dir.name} test split ({len(pool)} prompts with measured outcomes)"
    else:
        pool = synthetic_pool(rng, 2000)
        source = "synthetic workload (built-in templates, outcomes drawn from a difficulty model)"
    order = rng.permutation(len(pool))
    jobs, clock = [], 0.0
    for index in range(count):
        item = pool[int(order[index % len(pool)])]
        # A burst in the middle third of the run triples the arrival rate.
        burst = count / 3 <= index < 2 * count / 3
        clock += float(rng.exponential(1 / (rate_per_s * (3 if burst else 1))))
        jobs.append(_job(index, clock, item, rng))
    return jobs, source


def _pick(rng: np.random.Generator, choices: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in choices]
    weights = np.array([share for _, share in choices])
    return str(rng.choice(names, p=weights / weights.sum()))


def _job(index: int, arrival_s: float, item: Labelled, rng: np.random.Generator) -> Job:
    radio = RADIO_PROFILES[
        int(rng.choice(len(RADIO_PROFILES), p=[p.share for p in RADIO_PROFILES]))
    ]
    sla_name, _, max_latency = SLA_CLASSES[
        int(rng.choice(len(SLA_CLASSES), p=[share for _, share, _ in SLA_CLASSES]))
    ]
    rtt = radio.draw_rtt(rng)
    privacy = _pick(rng, PRIVACY_MIX)
    charging = bool(rng.random() < 0.3)
    request = InferenceRequest.model_validate(
        {
            "prompt": item.prompt,
            "sla": {"max_latency_ms": max_latency},
            "privacy": privacy,
            "device": {
                "cpu_cores": int(rng.choice([4, 6, 8])),
                "memory_free_mb": int(rng.choice([256, 1024, 2048, 4096])),
                "battery_pct": float(rng.uniform(5, 100)),
                "charging": charging,
                "has_npu": bool(rng.random() < 0.4),
                "installed_models": ["tinytext-device-v1"] if rng.random() < 0.5 else [],
                "region": "us-east-1" if rng.random() < 0.5 else None,
            },
            "network": {
                "radio": radio.name,
                "rtt_ms": round(rtt, 2),
                "bandwidth_mbps": radio.bandwidth_mbps,
                "jitter_ms": round(0.1 * rtt, 2),
            },
            "user_id": f"user-{int(rng.integers(0, 200))}",
        }
    )
    return Job(
        index=index,
        arrival_s=arrival_s,
        request=request,
        sla_class=sla_name,
        subject=item.subject,
        mec_correct=item.mec_correct,
        cloud_correct=item.cloud_correct,
    )


_SYNTHETIC = (
    # (template, difficulty 0-1)
    ("hi, how are you today?", 0.05),
    ("What is the capital of {country}?", 0.1),
    ("Translate 'good morning, {name}' to French.", 0.15),
    ("Classify the sentiment of: 'I {verb} this product'.", 0.15),
    ("Summarise: the meeting with {name} moved to Tuesday at noon.", 0.2),
    ("A shop sells pens at {a} cents each. How much do {b} pens cost in dollars?", 0.45),
    ("If a train leaves at {a}:00 going {b} km/h, when does it cover {c} km?", 0.55),
    ("Explain why the derivative of x^{a} is {a}x^{b}, step by step.", 0.6),
    ("Prove that there are infinitely many primes p with p mod {a} = 1.", 0.9),
    ("Compare the implications of {name}'s theorem for {country}'s tax policy and justify.", 0.8),
)


def synthetic_pool(rng: np.random.Generator, size: int) -> list[Labelled]:
    countries = ["France", "Peru", "Japan", "Kenya", "Norway"]
    names = ["Ada", "Grace", "Alan", "Edsger", "Barbara"]
    pool = []
    for _ in range(size):
        template, difficulty = _SYNTHETIC[int(rng.integers(0, len(_SYNTHETIC)))]
        prompt = template.format(
            country=rng.choice(countries),
            name=rng.choice(names),
            verb=rng.choice(["love", "hate", "tolerate"]),
            a=int(rng.integers(2, 9)),
            b=int(rng.integers(2, 9)),
            c=int(rng.integers(50, 900)),
        )
        pool.append(
            Labelled(
                prompt=prompt,
                subject="synthetic",
                mec_correct=bool(rng.random() < 0.95 - 0.6 * difficulty),
                cloud_correct=bool(rng.random() < 0.98 - 0.3 * difficulty),
            )
        )
    return pool
