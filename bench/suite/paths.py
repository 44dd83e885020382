"""Where the platform benchmark reads its inputs and writes its tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS_DIR = ROOT / "lambdas"
EVENTS_DIR = ROOT / "tests" / "events"
RESULTS_DIR = ROOT / "bench" / "results"
# Quick or partial runs land in build/ (ignored by git), so they never replace a full run's table.
PARTIAL_RESULTS_DIR = ROOT / "build" / "bench-results"
BUILD_DIR = ROOT / "build"


def event(name: str) -> dict[str, Any]:
    """A sample event from tests/events/, as the state machine hands it to an agent."""
    loaded: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return loaded
