"""The whole offline pipeline (moto executing the ASL, handlers in-process) at concurrency
1 and 16, as a client of `mecroute serve` waits for it: the answer, not the trace of the
states (which the local API does not read either). Beside the times, the CPU each request
costs the runtime's two processes (this one: the interpreter and the handlers; moto's data
services), which on a shared machine moves less than throughput does."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import os
import time
from pathlib import Path
from typing import Any

from mecroute.local.runtime import SERVE_HANDLER_PROCESSES, OfflineRuntime
from suite.table import Row, at_least, at_most
from suite.timing import Plan, summary
from suite.warm_handlers import DISCARD, PROMPT, quiet_observability

LEVELS = (1, 16)
# Issue 16's budgets: concurrency pays (c16 at least 1.5x c1's throughput), at least twice the
# 4.7 requests/s measured at c16 before, and a lone request answered within 100 ms.
SCALING_BUDGET = 1.5
C16_BUDGET_PER_S = 9.4
C1_P50_BUDGET_MS = 100.0


def run(plan: Plan) -> dict[str, Any]:
    counter = iter(range(1_000_000))

    def one(runtime: OfflineRuntime) -> tuple[float, str]:
        index = next(counter)
        request = {"prompt": f"{PROMPT} (request {index})", "user_id": f"u{index % 50}"}
        run = runtime.run(request, trace=False)
        return run.duration_ms, run.status if run.status == "SUCCEEDED" else f"{run.error}"

    figures: dict[str, Any] = {}
    totals = dict(zip(LEVELS, (plan.pipeline_c1, plan.pipeline_c16), strict=True))
    with (
        contextlib.redirect_stdout(DISCARD),
        OfflineRuntime(time_scale=0.0, handler_processes=SERVE_HANDLER_PROCESSES) as runtime,
    ):
        quiet_observability(DISCARD)
        for _ in range(5):
            one(runtime)
        for concurrency, total in totals.items():
            started, cpu_before = time.perf_counter(), _cpu_s(runtime)
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                done = list(pool.map(lambda _: one(runtime), range(total)))
            elapsed_s = time.perf_counter() - started
            cpu_after = _cpu_s(runtime)
            statuses = [status for _, status in done]
            figures[f"c{concurrency}"] = {
                "requests": total,
                "ms": summary([ms for ms, _ in done]),
                "per_s": total / elapsed_s,
                # CPU ms per request: [this process, moto's data services, the handlers'
                # worker processes] (None off Linux)
                "cpu_ms": [
                    None if after is None or before is None else (after - before) * 1000 / total
                    for before, after in zip(cpu_before, cpu_after, strict=True)
                ],
                "succeeded": statuses.count("SUCCEEDED"),
                "failed_by_error": dict(
                    collections.Counter(s for s in statuses if s != "SUCCEEDED")
                ),
            }
    figures["time_scale"] = 0.0
    return figures


def rows(figures: dict[str, Any]) -> list[Row]:
    c1, c16 = figures["c1"], figures["c16"]
    scaling = c16["per_s"] / c1["per_s"]
    return [
        at_most(
            "Offline pipeline p50, concurrency 1",
            _described(c1),
            c1["ms"]["p50"],
            C1_P50_BUDGET_MS,
            f"≤ {C1_P50_BUDGET_MS:.0f} ms",
        ),
        at_least(
            "Offline pipeline throughput, concurrency 16",
            _described(c16),
            c16["per_s"],
            C16_BUDGET_PER_S,
            f"≥ {C16_BUDGET_PER_S} req/s",
        ),
        at_least(
            "Offline pipeline throughput, concurrency 16 / concurrency 1",
            f"{scaling:.2f}x ({c16['per_s']:.1f} / {c1['per_s']:.1f} req/s)",
            scaling,
            SCALING_BUDGET,
            f"≥ {SCALING_BUDGET}x",
        ),
    ]


def _described(level: dict[str, Any]) -> str:
    main_ms, data_ms, handlers_ms = level.get("cpu_ms", [None, None, None])
    cpu = "" if main_ms is None or data_ms is None or handlers_ms is None else (
        f"; CPU {main_ms + data_ms + handlers_ms:.0f} ms a request: {main_ms:.0f} interpreter, "
        f"{handlers_ms:.0f} handlers, {data_ms:.0f} data services"
    )  # fmt: skip
    return (
        f"p50 {level['ms']['p50']:.0f} ms, p95 {level['ms']['p95']:.0f} ms, "
        f"{level['per_s']:.1f} req/s ({level['succeeded']}/{level['requests']} succeeded"
        + "".join(f"; {n} {error}" for error, n in level.get("failed_by_error", {}).items())
        + cpu
        + ")"
    )


def _cpu_s(runtime: OfflineRuntime) -> tuple[float | None, float | None, float | None]:
    """CPU seconds used so far by this process, by moto's data-services process and by the
    handlers' worker processes."""
    services = runtime.data_services
    workers = runtime.lambdas.processes if runtime.lambdas else None
    handlers = [_child_cpu_s(pid) for pid in workers.pids] if workers else [None]
    return (
        time.process_time(),
        None if services is None else _child_cpu_s(services.process.pid),
        None if None in handlers else sum(cpu for cpu in handlers if cpu is not None),
    )


def _child_cpu_s(pid: int) -> float | None:
    """A running child's user + system CPU seconds, from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
