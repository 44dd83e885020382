"""The simulated world: MEC nodes with slots, queues, background load, outages and drift;
a cloud with throttling episodes; devices. Time is virtual, so a run takes seconds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mecroute.domain.messages import CloudStatus, NodeStatus, ResourceSnapshot, TierStat
from mecroute.domain.registry import ModelSpec
from mecroute.evaluation.workload import Job
from mecroute.local.fleet import DEFAULT_SITES, SiteProfile
from mecroute.mec.timing import emulated_compute_ms

CLOUD_BACKHAUL_MS = 60.0
REFUSED_MS = 5.0  # a dead node refuses the connection at once
FLAKY_ERROR_RATE = 0.6
THROTTLE_RATE = 0.5


@dataclass(frozen=True)
class Episode:
    """[start, end) as fractions of the run; `factor` multiplies compute while it lasts."""

    start: float
    end: float
    factor: float = 1.0

    def active(self, progress: float) -> bool:
        return self.start <= progress < self.end


@dataclass
class VirtualNode:
    profile: SiteProfile
    outages: list[Episode] = field(default_factory=list)  # down, and health probes say so
    flaky: list[Episode] = field(default_factory=list)  # answers health, fails requests
    drift: list[Episode] = field(default_factory=list)  # silently slower
    slot_free_at: list[float] = field(default_factory=list)
    hot: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.slot_free_at = [0.0] * self.profile.slots
        self.hot = list(self.profile.preload)

    def background_slots(self, now_s: float) -> int:
        """Other tenants' load: a slow wave that takes up to half the slots."""
        wave = 0.5 * (1 + math.sin(now_s / 20.0 + len(self.profile.node_id)))
        return int(self.profile.slots * 0.5 * wave)

    def status(self, now_s: float, progress: float) -> NodeStatus:
        down = any(e.active(progress) for e in self.outages)
        usable = sorted(self.slot_free_at)[self.background_slots(now_s) :]
        busy = sum(1 for t in usable if t > now_s) + self.background_slots(now_s)
        waiting = max(0, busy - self.profile.slots)
        p = self.profile
        return NodeStatus(
            node_id=p.node_id,
            site=p.site,
            endpoint=f"sim://{p.node_id}",
            region="us-east-1",
            healthy=not down,
            unhealthy_reason="health probe failed" if down else "",
            slots=p.slots,
            free_slots=max(0, p.slots - busy),
            queue_depth=waiting,
            queue_limit=p.queue_limit,
            utilisation=min(1.0, busy / p.slots),
            speed_factor=p.speed_factor,
            site_rtt_ms=p.site_rtt_ms,
            memory_budget_mb=p.memory_budget_mb,
            hot_models=list(self.hot),
            heartbeat_age_s=0.0,
        )


@dataclass(frozen=True)
class Attempt:
    ok: bool
    latency_ms: float
    correct: bool
    cost_usd: float
    error: str = ""


class World:
    def __init__(
        self,
        models: list[ModelSpec],
        total_s: float,
        sites: tuple[SiteProfile, ...] = DEFAULT_SITES,
    ):
        self.models = {m.model_id: m for m in models}
        self.total_s = max(total_s, 1e-6)
        self.nodes = {p.node_id: VirtualNode(p) for p in sites}
        ids = list(self.nodes)
        # The scenario: one outage, one flaky spell and one slow drift, at different times.
        self.nodes[ids[0]].drift.append(Episode(0.55, 0.9, factor=4.0))
        self.nodes[ids[1 % len(ids)]].outages.append(Episode(0.25, 0.4))
        self.nodes[ids[2 % len(ids)]].flaky.append(Episode(0.7, 0.8))
        self.cloud_throttled = [Episode(0.45, 0.5)]

    def progress(self, now_s: float) -> float:
        return now_s / self.total_s

    def snapshot(self, now_s: float, stats: list[TierStat]) -> ResourceSnapshot:
        progress = self.progress(now_s)
        return ResourceSnapshot(
            taken_at=now_s,
            nodes=[node.status(now_s, progress) for node in self.nodes.values()],
            models=list(self.models.values()),
            cloud=CloudStatus(
                available=True,
                provider="simulator",
                region="us-east-1",
                backhaul_rtt_ms=CLOUD_BACKHAUL_MS,
            ),
            stats=stats,
        )

    def attempt(
        self,
        job: Job,
        tier: str,
        node_id: str | None,
        model_id: str,
        start_s: float,
        rng: np.random.Generator,
        commit: bool,
    ) -> Attempt:
        """What happens if `job` runs there, starting at `start_s`; `commit` books the slot."""
        model = self.models[model_id]
        request = job.request
        tokens = max(1, len(request.prompt) // 4) + 64
        noise = float(math.exp(0.2 * rng.standard_normal()))
        progress = self.progress(start_s)
        correct = self._correct(job, model_id, rng)
        cost = (
            tokens * model.price_per_1k_input_usd / 1000 + 64 * model.price_per_1k_output_usd / 1000
        )
        if tier == "device":
            installed = model_id in request.device.installed_models
            fetch = 0.0 if installed else model.size_mb * 8 / request.network.bandwidth_mbps * 1000
            speed = 0.2 + 0.8 * (0.5 if request.device.has_npu else 0.3)
            compute = emulated_compute_ms(model.latency_ms, tokens, speed) * noise
            return Attempt(True, fetch + compute, correct, 0.0)
        network = request.network.rtt_ms + request.network.jitter_ms * abs(rng.standard_normal())
        if tier == "cloud":
            if (
                any(e.active(progress) for e in self.cloud_throttled)
                and rng.random() < THROTTLE_RATE
            ):
                return Attempt(False, network + 20.0, False, 0.0, "ThrottlingException")
            compute = emulated_compute_ms(model.latency_ms, tokens, 1.0) * noise
            return Attempt(True, network + CLOUD_BACKHAUL_MS + compute, correct, cost)
        assert node_id is not None
        node = self.nodes[node_id]
        if any(e.active(progress) for e in node.outages):
            return Attempt(False, REFUSED_MS, False, 0.0, "TierUnavailable")
        if any(e.active(progress) for e in node.flaky) and rng.random() < FLAKY_ERROR_RATE:
            return Attempt(False, network + 30.0, False, 0.0, "TierUnavailable")
        drift = max([e.factor for e in node.drift if e.active(progress)], default=1.0)
        compute = emulated_compute_ms(model.latency_ms, tokens, node.profile.speed_factor)
        compute *= noise * drift
        load_ms = 0.0 if model_id in node.hot else 40.0 + model.size_mb * 10
        arrival = start_s + (network + node.profile.site_rtt_ms) / 2000
        background = node.background_slots(arrival)
        order = sorted(range(len(node.slot_free_at)), key=lambda i: node.slot_free_at[i])
        usable = order[background:] or order[-1:]
        slot = usable[0]
        wait_s = max(0.0, node.slot_free_at[slot] - arrival)
        queued = sum(1 for i in usable if node.slot_free_at[i] > arrival)
        if queued >= len(usable) and wait_s * 1000 > compute * node.profile.queue_limit / len(
            usable
        ):
            return Attempt(False, network + 2.0, False, 0.0, "Saturated")
        service_ms = load_ms + compute
        if commit:
            node.slot_free_at[slot] = arrival + wait_s + service_ms / 1000
            if model_id not in node.hot:
                node.hot.append(model_id)
        latency = network + node.profile.site_rtt_ms + wait_s * 1000 + service_ms
        return Attempt(True, latency, correct, cost)

    def _correct(self, job: Job, model_id: str, rng: np.random.Generator) -> bool:
        """Measured outcomes where the model has a reference column; modelled from the
        registry's easy/hard accuracies otherwise."""
        model = self.models[model_id]
        if model.outcome_reference == "cloud-class":
            return job.cloud_correct
        if model.outcome_reference == "mec-class":
            return job.mec_correct
        chance = model.accuracy_easy if job.mec_correct else model.accuracy_hard
        return bool(rng.random() < chance)
