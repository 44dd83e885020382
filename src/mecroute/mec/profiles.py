"""MEC site profiles: capacity, compute speed, network distance and memory budget per site.

One table for both places a node runs: `mecroute node --profile NAME` and the offline
runtime's fleet read the same profiles, so a site behaves the same whichever started it.
The network figures are the published measurements quoted in the design brief.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from mecroute.domain.registry import Heartbeat, NodeRecord


@dataclass(frozen=True)
class AccessNetwork:
    """A published round-trip-time distribution for the radio network a site's clients use."""

    name: str
    median_ms: float
    p95_ms: float
    p99_ms: float
    source: str

    def draw_rtt_ms(self, rng: random.Random) -> float:
        """One round trip, drawn so the published median, p95 and p99 hold.

        The inverse CDF is linear between the published quantiles; below the median it
        falls to 60% of it, and the top 1% stretches to 1.2 x p99 (the sources stop at p99).
        """
        knots = (
            (0.0, 0.6 * self.median_ms),
            (0.5, self.median_ms),
            (0.95, self.p95_ms),
            (0.99, self.p99_ms),
            (1.0, 1.2 * self.p99_ms),
        )
        u = rng.random()
        for (u0, rtt0), (u1, rtt1) in itertools.pairwise(knots):
            if u <= u1:
                return rtt0 + (rtt1 - rtt0) * (u - u0) / (u1 - u0)
        return knots[-1][1]


ACCESS_NETWORKS: dict[str, AccessNetwork] = {
    network.name: network
    for network in (
        AccessNetwork(
            "5g-edge", 18.0, 32.0, 210.0, "5G vehicle-to-edge RTT: median 18, p95 32, p99 210 ms"
        ),
        AccessNetwork(
            "lte-commercial",
            75.0,
            137.0,
            200.0,
            "commercial 5G/LTE (Irish operator): median 75, p95 137 ms; p99 at the top of the "
            "published 50-200 ms commercial LTE range",
        ),
        AccessNetwork(
            "wifi", 2.0, 4.0, 5.0, "Wi-Fi: under 5 ms (median and p95 chosen inside that bound)"
        ),
    )
}


@dataclass(frozen=True)
class SiteProfile:
    """One MEC site. `site` is the profile's name; `node_id` is its first node's id."""

    node_id: str
    site: str
    slots: int
    queue_limit: int
    speed_factor: float
    site_rtt_ms: float
    memory_budget_mb: float
    preload: tuple[str, ...]
    access: AccessNetwork

    def emulated_rtt_ms(self, rng: random.Random) -> float:
        """What a client of this site waits on the network: its radio plus the site's distance."""
        return self.access.draw_rtt_ms(rng) + self.site_rtt_ms

    def node_record(self, endpoint: str, region: str, heartbeat: Heartbeat) -> NodeRecord:
        """The nodes-table record of a node of this site: static fields, then its load."""
        return NodeRecord(
            node_id=self.node_id,
            site=self.site,
            endpoint=endpoint,
            region=region,
            slots=self.slots,
            queue_limit=self.queue_limit,
            speed_factor=self.speed_factor,
            site_rtt_ms=self.site_rtt_ms,
            memory_budget_mb=self.memory_budget_mb,
            **heartbeat.model_dump(),
        )


# Three sites that differ in every dimension the router weighs. Memory budgets are in the
# zoo's units (its graphs are megabytes, not the gigabytes of the models they stand for):
# the suburban site cannot hold both MEC-class models at once, so loading one evicts the other.
# fmt: off
_SITES = (
    # node id,       site,          slots, queue, speed, site RTT ms, memory MB, access network
    ("mec-metro-1",  "metro-5g",     4,     16,    1.0,   2.0,         64,        "5g-edge"),
    ("mec-suburb-1", "suburban-lte", 2,     8,     0.6,   8.0,         32,        "lte-commercial"),
    ("mec-venue-1",  "venue-wifi",   8,     32,    1.5,   1.0,         128,       "wifi"),
)
# fmt: on
# The models each site loads at start.
_PRELOAD: dict[str, tuple[str, ...]] = {
    "metro-5g": ("edge-large-v1", "edge-small-v1"),
    "suburban-lte": ("edge-small-v1",),
    "venue-wifi": ("edge-large-v1", "tinytext-device-v1"),
}
PROFILES: dict[str, SiteProfile] = {
    site: SiteProfile(
        node_id, site, slots, queue, speed, rtt, memory, _PRELOAD[site], ACCESS_NETWORKS[network]
    )
    for node_id, site, slots, queue, speed, rtt, memory, network in _SITES
}
DEFAULT_SITES: tuple[SiteProfile, ...] = tuple(PROFILES.values())


def profile_named(name: str) -> SiteProfile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"no MEC site profile {name!r}; known profiles: {known}") from None
