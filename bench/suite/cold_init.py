"""Each agent's cold initialisation in a fresh interpreter, on CPU time, against the floor every
handler pays (an agent that imports onnxruntime at initialisation: the floor plus
`import onnxruntime`; one whose layer holds it but loads it only with its first model is judged
against the plain floor).

Every case imports from bytecode, ours as well as the libraries': the children keep their
bytecode under build/ and each case runs once unmeasured first. Before, the floor's libraries
came from the bytecode pip wrote while the project's modules were compiled from source in
every run wherever no __pycache__ could be written (PYTHONDONTWRITEBYTECODE, set on this
machine), so an agent's ratio depended on the state of the tree. (The deployed layer ships no
bytecode for either: see docs/performance.md.)"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
from typing import Any

from mecroute.lambda_support.manifest import AGENTS
from mecroute.local.names import Names
from mecroute.local.runtime import REGION
from suite.paths import BUILD_DIR, LAMBDAS_DIR, ROOT
from suite.table import Row, at_most
from suite.timing import Plan, summary

BUDGET_RATIO = 1.3
BYTECODE_DIR = BUILD_DIR / "cold-init-bytecode"
FLOOR_IMPORTS = (
    "import pydantic, boto3\n"
    "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
    "Logger(service='mecroute'); Tracer(service='mecroute')\n"
    "Metrics(namespace='MecRoute', service='mecroute')\n"
)
# `import pydantic` is lazy: its model machinery loads with the first model class. Every
# handler built on pydantic pays that, so the table shows the ratio to this floor too.
PYDANTIC_LOADED = (
    "from pydantic import BaseModel, Field\n"
    "class Probe(BaseModel):\n"
    "    x: int = Field(default=0, ge=0)\n"
)
ONNXRUNTIME = "import onnxruntime\n"
BASELINES = {
    "floor": FLOOR_IMPORTS,
    "floor + onnxruntime": FLOOR_IMPORTS + ONNXRUNTIME,
    "floor, pydantic loaded": FLOOR_IMPORTS + PYDANTIC_LOADED,
    "floor, pydantic loaded + onnxruntime": FLOOR_IMPORTS + PYDANTIC_LOADED + ONNXRUNTIME,
}
CHILD = """\
import sys, time
started, started_cpu = time.perf_counter(), time.process_time()
{body}
cpu = (time.process_time() - started_cpu) * 1000
print("IMPORT_MS", (time.perf_counter() - started) * 1000, cpu, "onnxruntime" in sys.modules)
"""


def cold_cases() -> dict[str, tuple[str, str | None]]:
    """name -> (code run in a fresh interpreter, the lambdas/ directory it runs from)."""
    cases: dict[str, tuple[str, str | None]] = {
        name: (code, None) for name, code in BASELINES.items()
    }
    for agent in AGENTS:
        cases[agent] = ("import handler\n", agent)
    return cases


def cold_environment(agent: str | None) -> dict[str, str]:
    """What Lambda sets: the function's variables, and LAMBDA_TASK_ROOT (which turns the
    tracer on, as it is in the deployed functions). No AWS call is made at import."""
    task_root = str(LAMBDAS_DIR / (agent or "router"))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_")) and name != "PYTHONDONTWRITEBYTECODE"
    }
    return env | {
        "PYTHONPYCACHEPREFIX": str(BYTECODE_DIR),
        **Names().environment(),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": f"mecroute-{agent or 'floor'}",
        "LAMBDA_TASK_ROOT": task_root,
        "POWERTOOLS_SERVICE_NAME": "mecroute",
        "POWERTOOLS_METRICS_NAMESPACE": "MecRoute",
    }


def cold_once(code: str, agent: str | None) -> tuple[float, float, bool]:
    """(wall ms, CPU ms) of the imports, measured inside the fresh interpreter, and whether
    they imported onnxruntime."""
    cwd = LAMBDAS_DIR / agent if agent else ROOT
    body = ("sys.path.insert(0, '.')\n" if agent else "") + code
    completed = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", CHILD.format(body=body)],
        cwd=cwd,
        env=cold_environment(agent),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold import of {agent or 'floor'} failed:\n{completed.stderr}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("IMPORT_MS"))
    _, wall_ms, cpu_ms, onnx = line.split()
    return float(wall_ms), float(cpu_ms), onnx == "True"


def compare(
    cpus: dict[str, list[float]], walls: dict[str, list[float]], onnx: frozenset[str]
) -> dict[str, Any]:
    """Each agent's medians against the baseline it is judged by."""
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    wall = {name: statistics.median(values) for name, values in walls.items()}
    agents = {}
    for agent in cpus.keys() - BASELINES.keys():
        uses_onnx = agent in onnx
        baseline = "floor + onnxruntime" if uses_onnx else "floor"
        loaded = "floor, pydantic loaded + onnxruntime" if uses_onnx else "floor, pydantic loaded"
        agents[agent] = {
            "cpu_ms": summary(cpus[agent]),
            "wall_ms": summary(walls[agent]),
            "baseline": baseline,
            "ratio": cpu[agent] / cpu[baseline],
            "ratio_wall": wall[agent] / wall[baseline],
            "ratio_of_minimums": min(cpus[agent]) / min(cpus[baseline]),
            "ratio_to_pydantic_loaded": cpu[agent] / cpu[loaded],
        }
    return {
        "baselines_cpu_ms": {name: summary(cpus[name]) for name in BASELINES},
        "baselines_wall_ms": {name: summary(walls[name]) for name in BASELINES},
        "agents": {agent: agents[agent] for agent in sorted(agents, key=list(cpus).index)},
    }


def run(plan: Plan) -> dict[str, Any]:
    """Budget ratios use CPU time: on a shared machine, waiting for a CPU inflates wall time
    by whatever the neighbours do; alone (as in a Lambda sandbox) an import's wall time is
    its CPU time plus file reads. Wall-time medians are reported beside them."""
    cases = cold_cases()
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases)
    onnx_at_init: set[str] = set()
    rng = random.Random(8)
    for code, agent in cases.values():
        cold_once(code, agent)  # unmeasured: writes the bytecode every measured run reads
    for _ in range(plan.cold_runs):
        rng.shuffle(order)  # interleaved: a noisy spell hits every case alike
        for name in order:
            code, agent = cases[name]
            wall_ms, cpu_ms, imported_onnx = cold_once(code, agent)
            if agent and imported_onnx:
                onnx_at_init.add(agent)
            walls[name].append(wall_ms)
            cpus[name].append(cpu_ms)
    return {
        "runs": plan.cold_runs,
        **compare(cpus, walls, frozenset(onnx_at_init)),
        "onnx_at_init": sorted(onnx_at_init),
    }


def rows(cold: dict[str, Any]) -> list[Row]:
    table = []
    for agent, figures in cold["agents"].items():
        baseline_ms = cold["baselines_cpu_ms"][figures["baseline"]]["p50"]
        table.append(
            at_most(
                f"Cold init: {agent} (CPU time)",
                f"{figures['cpu_ms']['p50']:.0f} ms = {figures['ratio']:.2f}x "
                f"{figures['baseline']} ({baseline_ms:.0f} ms); wall time "
                f"{figures['ratio_wall']:.2f}x; {figures['ratio_to_pydantic_loaded']:.2f}x "
                "the floor with pydantic's model machinery loaded",
                figures["ratio"],
                BUDGET_RATIO,
                f"≤ {BUDGET_RATIO:g}x",
            )
        )
    return table


def notes(cold: dict[str, Any]) -> list[str]:
    listed = "; ".join(
        f"{name} {figures['p50']:.0f} ms" for name, figures in cold["baselines_cpu_ms"].items()
    )
    return [f"Cold-init baselines (CPU time, median of {cold['runs']}): {listed}."]
