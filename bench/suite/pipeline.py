"""The whole offline pipeline (moto executing the ASL, handlers in-process) at concurrency
1 and 16."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import time
from typing import Any

from mecroute.local.runtime import OfflineRuntime
from suite.table import Row
from suite.timing import Plan, summary
from suite.warm_handlers import DISCARD, PROMPT, quiet_observability

LEVELS = (1, 16)


def run(plan: Plan) -> dict[str, Any]:
    counter = iter(range(1_000_000))

    def one(runtime: OfflineRuntime) -> tuple[float, str]:
        index = next(counter)
        run = runtime.run({"prompt": f"{PROMPT} (request {index})", "user_id": f"u{index % 50}"})
        return run.duration_ms, run.status if run.status == "SUCCEEDED" else f"{run.error}"

    figures: dict[str, Any] = {}
    totals = dict(zip(LEVELS, (plan.pipeline_c1, plan.pipeline_c16), strict=True))
    with contextlib.redirect_stdout(DISCARD), OfflineRuntime(time_scale=0.0) as runtime:
        quiet_observability(DISCARD)
        for _ in range(5):
            one(runtime)
        for concurrency, total in totals.items():
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                done = list(pool.map(lambda _: one(runtime), range(total)))
            elapsed_s = time.perf_counter() - started
            statuses = [status for _, status in done]
            figures[f"c{concurrency}"] = {
                "requests": total,
                "ms": summary([ms for ms, _ in done]),
                "per_s": total / elapsed_s,
                "succeeded": statuses.count("SUCCEEDED"),
                "failed_by_error": dict(
                    collections.Counter(s for s in statuses if s != "SUCCEEDED")
                ),
            }
    figures["time_scale"] = 0.0
    return figures


def rows(figures: dict[str, Any]) -> list[Row]:
    table = []
    for concurrency in LEVELS:
        p = figures[f"c{concurrency}"]
        table.append(
            Row(
                f"Offline pipeline, concurrency {concurrency}",
                f"p50 {p['ms']['p50']:.0f} ms, p95 {p['ms']['p95']:.0f} ms, "
                f"{p['per_s']:.1f} req/s ({p['succeeded']}/{p['requests']} succeeded"
                + "".join(f"; {n} {error}" for error, n in p.get("failed_by_error", {}).items())
                + ")",
                "-",
                None,
            )
        )
    return table
