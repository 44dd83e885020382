"""Means over seeds with 95% confidence intervals (Student's t), for every figure of a report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# Two-sided 95% quantiles of Student's t for 1-30 degrees of freedom (a table keeps scipy out
# of the dependencies for thirty numbers); beyond 30 the normal's 1.96 is within 2%.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t975(degrees_of_freedom: int) -> float:
    if degrees_of_freedom < 1:
        raise ValueError("an interval needs at least two values")
    return _T975[degrees_of_freedom - 1] if degrees_of_freedom <= len(_T975) else 1.96


def interval(values: Sequence[float]) -> dict[str, Any]:
    """{"mean", "ci": [low, high], "n"}; one value gives a zero-width interval of itself."""
    n = len(values)
    if n == 0:
        raise ValueError("no values")
    mean = math.fsum(values) / n
    if n == 1:
        return {"mean": mean, "ci": [mean, mean], "n": 1}
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = t975(n - 1) * math.sqrt(variance / n)
    return {"mean": mean, "ci": [mean - half, mean + half], "n": n}


def aggregate(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-seed summaries of the same shape -> one of that shape, each number an interval.

    Text is kept from the first summary; a figure missing or None in a seed (a class with no
    requests) is averaged over the seeds that have it.
    """
    merged: dict[str, Any] = {}
    for key in summaries[0]:
        present = [s[key] for s in summaries if s.get(key) is not None]
        value = present[0] if present else None
        if isinstance(value, dict):
            merged[key] = aggregate(present)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            merged[key] = value
        else:
            merged[key] = interval([float(v) for v in present])
    return merged
