"""The system's shared beliefs: tokens, compute, fetch, load, cost and accuracy of a request.

The router predicts with these, the execute agent, the cloud simulator and the MEC node
charge with them. The simulator's ground truth deliberately differs and lives apart, in the
evaluation package; no agent imports it. Kept free of numpy so the router stays light.
"""

from __future__ import annotations

import math

from mecroute.domain.registry import ModelSpec
from mecroute.domain.request import DeviceTelemetry, NetworkConditions

# A learned statistic counts only after this many outcomes: below it, the router predicts
# from the registry alone and no place is declared to be drifting.
LEARNED_MIN_SAMPLES = 5
# A place is drifting when its learned latency exceeds the router's own prediction this much.
DRIFT_RATIO = 1.5
# Loading a warm model: fetch from S3 within the region plus session creation.
LOAD_MB_PER_S = 100.0
LOAD_FIXED_MS = 40.0
# Bytes per token of prompt text on the wire (about four characters of English).
BYTES_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About four characters per token for English, one per CJK character."""
    wide = sum(1 for ch in text if ord(ch) > 0x2E80)
    return max(1, math.ceil((len(text) - wide) / 4) + wide)


def compute_time_ms(reference_ms: float, total_tokens: int, speed_factor: float) -> float:
    """A model's compute time for a request: `reference_ms` is for 100 tokens at speed 1."""
    return reference_ms * max(0.25, total_tokens / 100) / speed_factor


def device_speed(device_score: float) -> float:
    """How fast the device computes relative to reference hardware (the floor: a weak phone)."""
    return 0.2 + 0.8 * device_score


def device_fetch_ms(model: ModelSpec, device: DeviceTelemetry, network: NetworkConditions) -> float:
    """Time to download the model's artifact to the device; nothing if it is installed."""
    if model.model_id in device.installed_models:
        return 0.0
    return model.size_mb * 8 / network.bandwidth_mbps * 1000


def upload_ms(input_tokens: int, network: NetworkConditions) -> float:
    """Time to send the prompt over the device's link."""
    return input_tokens * BYTES_PER_TOKEN * 8 / (network.bandwidth_mbps * 1000)


def warm_load_ms(model: ModelSpec) -> float:
    """Time to load a warm model onto a MEC node from the artifact store."""
    return LOAD_FIXED_MS + model.size_mb / LOAD_MB_PER_S * 1000


def cost_usd(model: ModelSpec, input_tokens: int, output_tokens: int) -> float:
    """What the request costs at the model's per-1k-token prices (unrounded)."""
    return (
        input_tokens * model.price_per_1k_input_usd + output_tokens * model.price_per_1k_output_usd
    ) / 1000


def predicted_accuracy(model: ModelSpec, complexity: float) -> float:
    """Expected accuracy given the request's complexity, P(the MEC-class model is wrong)."""
    expected = (1 - complexity) * model.accuracy_easy + complexity * model.accuracy_hard
    return round(min(1.0, max(0.0, expected)), 4)
