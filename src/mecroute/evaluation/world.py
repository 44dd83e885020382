"""The simulated world: MEC nodes with slots, queues, other tenants, outages and drift; a cloud
with throttling; devices; all timed by the ground truth. Time is virtual, so a run takes seconds.

Agents see it only as they would in production: node load through heartbeats every few seconds,
the registry's and profiles' priors, and what the learning loop has folded in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mecroute.domain.estimates import REGIONAL_PATH_PRIOR, RoutingOverhead
from mecroute.domain.messages import CloudStatus, NodeStatus, ResourceSnapshot, TierStat
from mecroute.domain.registry import ModelSpec
from mecroute.evaluation.ground_truth import (
    REGION_BACKHAUL_PRIOR_MS,
    SITE_LAN_MS,
    GroundTruth,
)
from mecroute.evaluation.workload import Job
from mecroute.mec.profiles import DEFAULT_SITES, SiteProfile

REGION = "region"  # the origin of calls made by the regional pipeline's execute Lambda
HEARTBEAT_S = 5.0  # the node's default heartbeat interval (mec/node.py, MEC_HEARTBEAT_S)
REFUSED_MS = 5.0  # a dead node refuses the connection at once
FLAKY_ERROR_RATE = 0.6
THROTTLE_RATE = 0.5
LOAD_MB_PER_S = 80.0  # true S3 fetch and session creation for a warm model
LOAD_FIXED_MS = 60.0


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
    heartbeat_phase_s: float = 0.0
    outages: list[Episode] = field(default_factory=list)  # down, and health probes say so
    flaky: list[Episode] = field(default_factory=list)  # answers health, fails requests
    drift: list[Episode] = field(default_factory=list)  # silently slower
    slot_free_at: list[float] = field(default_factory=list)
    hot: list[str] = field(default_factory=list)
    reported: NodeStatus | None = None
    reported_beat: float = -math.inf

    def __post_init__(self) -> None:
        self.slot_free_at = [0.0] * self.profile.slots
        self.hot = list(self.profile.preload)


@dataclass(frozen=True)
class Attempt:
    """One try at one place, timed from `origin` (the region or a site's gateway) and back."""

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
        truth: GroundTruth,
        sites: tuple[SiteProfile, ...] = DEFAULT_SITES,
        incidents: bool = True,
    ):
        self.models = {m.model_id: m for m in models}
        self.truth = truth
        self.total_s = max(total_s, 1e-6)
        rng = np.random.default_rng([truth.seed, 0x5CE7])
        self.nodes = {
            p.node_id: VirtualNode(p, heartbeat_phase_s=float(rng.uniform(0, HEARTBEAT_S)))
            for p in sites
        }
        self.cloud_throttled: list[Episode] = []
        if incidents:
            self._draw_incidents(rng)

    def _draw_incidents(self, rng: np.random.Generator) -> None:
        """One outage, one flaky spell and one slow drift, on nodes and at times drawn for the
        seed; a cloud throttling spell."""
        ids = [str(i) for i in rng.permutation(list(self.nodes))]
        start = rng.uniform(0.15, 0.6, size=3)
        self.nodes[ids[0]].drift.append(Episode(start[0], start[0] + 0.35, factor=4.0))
        self.nodes[ids[1 % len(ids)]].outages.append(Episode(start[1], start[1] + 0.15))
        self.nodes[ids[2 % len(ids)]].flaky.append(Episode(start[2], start[2] + 0.1))
        throttle = float(rng.uniform(0.2, 0.8))
        self.cloud_throttled = [Episode(throttle, throttle + 0.05)]

    def progress(self, now_s: float) -> float:
        return now_s / self.total_s

    def home_node(self, job: Job) -> str:
        """The site a client's radio network reaches first (its gateway on the edge path)."""
        radio = job.request.network.radio
        for node_id, node in self.nodes.items():
            if node.profile.access.name.startswith(radio):
                return node_id
        return next(iter(self.nodes))

    # What agents see -----------------------------------------------------------------------

    def snapshot(
        self,
        now_s: float,
        stats: list[TierStat],
        live_node: str | None = None,
        overhead: RoutingOverhead = REGIONAL_PATH_PRIOR,
    ) -> ResourceSnapshot:
        """Node load as of each node's last heartbeat; `live_node` (a gateway's own site) is
        probed directly and current; `overhead`: the routing path's time as the router knows it."""
        return ResourceSnapshot(
            taken_at=now_s,
            nodes=[
                self._reported(node, now_s, node_id == live_node)
                for node_id, node in self.nodes.items()
            ],
            models=list(self.models.values()),
            cloud=CloudStatus(
                available=True,
                provider="simulator",
                region="us-east-1",
                backhaul_rtt_ms=REGION_BACKHAUL_PRIOR_MS,
            ),
            stats=stats,
            routing_overhead=overhead,
        )

    def _reported(self, node: VirtualNode, now_s: float, live: bool) -> NodeStatus:
        if live:
            return self._status(node, now_s, age_s=0.0)
        beat = (
            node.heartbeat_phase_s
            + math.floor((now_s - node.heartbeat_phase_s) / HEARTBEAT_S) * HEARTBEAT_S
        )
        if node.reported is None or beat > node.reported_beat:
            # Load is taken at the first arrival after the beat: off by one gap between arrivals.
            node.reported, node.reported_beat = self._status(node, now_s, age_s=0.0), beat
        return node.reported.model_copy(update={"heartbeat_age_s": round(now_s - beat, 3)})

    def _status(self, node: VirtualNode, now_s: float, age_s: float) -> NodeStatus:
        p = node.profile
        down = any(e.active(self.progress(now_s)) for e in node.outages)
        background = self.truth.background_slots(p.node_id, p.slots, now_s)
        usable = sorted(node.slot_free_at)[background:]
        busy = sum(1 for t in usable if t > now_s) + background
        return NodeStatus(
            node_id=p.node_id,
            site=p.site,
            endpoint=f"sim://{p.node_id}",
            region="us-east-1",
            healthy=not down,
            unhealthy_reason="health probe failed" if down else "",
            slots=p.slots,
            free_slots=max(0, p.slots - busy),
            queue_depth=max(0, busy - p.slots),
            queue_limit=p.queue_limit,
            utilisation=min(1.0, busy / p.slots),
            speed_factor=p.speed_factor,  # the profile's figure, not the truth
            site_rtt_ms=p.site_rtt_ms,
            memory_budget_mb=p.memory_budget_mb,
            hot_models=list(node.hot),
            heartbeat_age_s=age_s,
        )

    # What really happens -------------------------------------------------------------------

    def client_hop_ms(self, job: Job, origin: str, rng: np.random.Generator) -> float:
        """The client's round trip to where decisions are made: its radio, then the backhaul
        to the region or the short hop to its home site's gateway."""
        network = job.request.network
        radio = network.rtt_ms + network.jitter_ms * abs(float(rng.standard_normal()))
        home = self.truth.sites[self.home_node(job)]
        return radio + (home.region_rtt_ms if origin == REGION else home.site_rtt_ms)

    def _hop_ms(self, origin: str, node_id: str | None, rng: np.random.Generator) -> float:
        """From the caller to the tier and back: to a node's site or to the cloud's endpoint."""
        jitter = math.exp(0.1 * float(rng.standard_normal()))
        truth = self.truth
        if node_id is None:  # the cloud, in the region
            base = truth.in_region_hop_ms
            return jitter * (base if origin == REGION else base + truth.sites[origin].region_rtt_ms)
        if origin == REGION:
            return jitter * truth.sites[node_id].region_rtt_ms
        if origin == node_id:
            return SITE_LAN_MS
        return jitter * (
            truth.metro_hop_ms + truth.sites[origin].site_rtt_ms + truth.sites[node_id].site_rtt_ms
        )

    def attempt(
        self,
        job: Job,
        place: tuple[str, str | None, str],
        start_s: float,
        origin: str,
        rng: np.random.Generator,
        commit: bool,
    ) -> Attempt:
        """What happens if `job` runs at `place`, called from `origin` at `start_s`; `commit`
        books the node's slot. Latency runs from the call leaving `origin` to its answer."""
        tier, node_id, model_id = place
        model, request, truth = self.models[model_id], job.request, self.truth
        input_tokens, output_tokens = (
            max(1, len(request.prompt) // 4),
            truth.output_tokens(job.index),
        )
        tokens = input_tokens + output_tokens
        correct = truth.correct(model, job.mec_correct, job.cloud_correct, rng)
        cost = (
            input_tokens * model.price_per_1k_input_usd
            + output_tokens * model.price_per_1k_output_usd
        ) / 1000
        if tier == "device":
            # The directive reached the client with the answer to its call; it runs the model.
            installed = model_id in request.device.installed_models
            fetch = 0.0 if installed else model.size_mb * 8 / request.network.bandwidth_mbps * 1000
            speed = truth.device_speed * (0.5 if request.device.has_npu else 0.3)
            return Attempt(True, fetch + truth.compute_ms(model, tokens, speed, rng), correct, 0.0)
        hop = self._hop_ms(origin, node_id, rng)
        if tier == "cloud":
            if (
                any(e.active(self.progress(start_s)) for e in self.cloud_throttled)
                and rng.random() < THROTTLE_RATE
            ):
                return Attempt(False, hop + 20.0, False, 0.0, "ThrottlingException")
            return Attempt(True, hop + truth.compute_ms(model, tokens, 1.0, rng), correct, cost)
        assert node_id is not None
        return self._on_node(
            self.nodes[node_id], model, tokens, start_s, hop, correct, cost, rng, commit
        )

    def _on_node(
        self,
        node: VirtualNode,
        model: ModelSpec,
        tokens: int,
        start_s: float,
        hop_ms: float,
        correct: bool,
        cost: float,
        rng: np.random.Generator,
        commit: bool,
    ) -> Attempt:
        progress = self.progress(start_s)
        if any(e.active(progress) for e in node.outages):
            return Attempt(False, REFUSED_MS + hop_ms, False, 0.0, "TierUnavailable")
        if any(e.active(progress) for e in node.flaky) and rng.random() < FLAKY_ERROR_RATE:
            return Attempt(False, hop_ms + 30.0, False, 0.0, "TierUnavailable")
        drift = max([e.factor for e in node.drift if e.active(progress)], default=1.0)
        speed = self.truth.sites[node.profile.node_id].speed_factor
        compute = self.truth.compute_ms(model, tokens, speed, rng) * drift
        hot = model.model_id in node.hot
        load_ms = 0.0 if hot else LOAD_FIXED_MS + model.size_mb / LOAD_MB_PER_S * 1000
        arrival = start_s + hop_ms / 2000
        background = self.truth.background_slots(node.profile.node_id, node.profile.slots, arrival)
        order = sorted(range(len(node.slot_free_at)), key=lambda i: node.slot_free_at[i])
        usable = order[background:] or order[-1:]
        slot = usable[0]
        wait_s = max(0.0, node.slot_free_at[slot] - arrival)
        queued = sum(1 for i in usable if node.slot_free_at[i] > arrival)
        if queued >= len(usable) and wait_s * 1000 > compute * node.profile.queue_limit / len(
            usable
        ):
            return Attempt(False, hop_ms + 2.0, False, 0.0, "Saturated")
        service_ms = load_ms + compute
        if commit:
            node.slot_free_at[slot] = arrival + wait_s + service_ms / 1000
            if not hot:
                node.hot.append(model.model_id)
        return Attempt(True, hop_ms + wait_s * 1000 + service_ms, correct, cost)
