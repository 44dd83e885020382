"""Our router's decision beside LiteLLM's routing, in the same run: alternating rounds in worker
processes pinned to one core, LiteLLM from its own venv (latency-based on 26 deployments,
simple-shuffle on 3), every decision in-process with no network."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from suite import litellm_venv
from suite.table import Row, at_least
from suite.timing import Plan, summary

WORKER = Path(__file__).with_name("decision_worker.py")
OURS = "ours"
LATENCY_26 = "litellm-latency-26"
SHUFFLE_3 = "litellm-shuffle-3"
# Ours must be at least this many times faster than each (LiteLLM's median / ours).
BUDGETS = {LATENCY_26: 3.0, SHUFFLE_3: 1.0}
LABELS = {
    LATENCY_26: "LiteLLM latency-based routing, 26 deployments",
    SHUFFLE_3: "LiteLLM simple-shuffle, 3 deployments",
}


class Worker:
    """One side's process: started once, then asked for a round at a time."""

    def __init__(self, side: str, interpreter: Path) -> None:
        self.side = side
        self.process = subprocess.Popen(  # noqa: S603 - our interpreters, our worker script
            [str(interpreter), str(WORKER), side],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONWARNINGS": "ignore"},
        )
        self.facts: dict[str, Any] = {}

    def _line(self) -> str:
        stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        line = stdout.readline()
        if not line:
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"decision worker {self.side} ended:\n{stderr[-2000:]}")
        return line

    def ready(self) -> None:
        self.facts = json.loads(self._line())

    def pin(self, core: int | None) -> None:
        if core is not None:
            os.sched_setaffinity(self.process.pid, {core})  # what `taskset -p` does

    def round(self, calls: int) -> list[float]:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        stdin.write(f"{calls}\n")
        stdin.flush()
        samples: list[float] = json.loads(self._line())
        return samples

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def the_core() -> int | None:
    return max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def compare(rounds: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Per side its samples and round medians; per LiteLLM side the speed-up of ours: the
    median over rounds of (their round median / ours in the same round)."""
    medians = {side: [statistics.median(r) for r in runs] for side, runs in rounds.items()}
    sides: dict[str, dict[str, Any]] = {
        side: {
            "us": summary([us for run in runs for us in run]),
            "round_p50_us": [round(m, 1) for m in medians[side]],
        }
        for side, runs in rounds.items()
    }
    for side in BUDGETS:
        paired = zip(medians[side], medians[OURS], strict=True)
        sides[side]["ours_faster_by"] = statistics.median(theirs / ours for theirs, ours in paired)
    return sides


def run(plan: Plan) -> dict[str, Any]:
    try:
        litellm_python = litellm_venv.ensure()
    except RuntimeError as error:
        return {"error": str(error)}
    interpreters = {OURS: Path(sys.executable), LATENCY_26: litellm_python}
    interpreters[SHUFFLE_3] = litellm_python
    workers = [Worker(side, interpreter) for side, interpreter in interpreters.items()]
    core = the_core()
    rounds: dict[str, list[list[float]]] = {worker.side: [] for worker in workers}
    try:
        for worker in workers:
            worker.ready()
            worker.pin(core)
        for index in range(plan.litellm_rounds + 1):
            # Alternate who goes first, so a noisy spell does not always hit the same side.
            order = workers[index % len(workers) :] + workers[: index % len(workers)]
            for worker in order:
                samples = worker.round(plan.litellm_calls)
                if index > 0:  # the first round warms caches and branch predictors
                    rounds[worker.side].append(samples)
    finally:
        for worker in workers:
            worker.stop()
    return {
        "litellm_version": litellm_venv.LITELLM_VERSION,
        "core": core,
        "rounds": plan.litellm_rounds,
        "calls_per_round": plan.litellm_calls,
        "facts": {worker.side: worker.facts for worker in workers},
        "sides": compare(rounds),
    }


def rows(figures: dict[str, Any]) -> list[Row]:
    if "error" in figures:
        # A budget that could not be checked is not met.
        reason = figures["error"].splitlines()[0]
        return [
            Row(f"Router vs {label}", f"not measured: {reason}", "-", float("inf"))
            for label in LABELS.values()
        ]
    sides = figures["sides"]
    ours = sides[OURS]["us"]["p50"]
    table = []
    for side, budget in BUDGETS.items():
        theirs = sides[side]
        faster = theirs["ours_faster_by"]
        table.append(
            at_least(
                f"Router vs {LABELS[side]} (LiteLLM {figures['litellm_version']})",
                f"speed-up {faster:.2f}x: ours {ours:.0f} µs, LiteLLM {theirs['us']['p50']:.0f} µs "
                f"p50 (median ratio of {figures['rounds']} alternating rounds on one core)",
                faster,
                budget,
                f"≥ {budget:g}x faster" if budget > 1 else "faster",
            )
        )
    return table
