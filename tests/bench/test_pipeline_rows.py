"""The offline pipeline's rows say how many requests failed and with which error, and judge
issue 16's budgets: a lone request within 100 ms, 9.4 req/s at concurrency 16, which must be
at least 1.5 times concurrency 1's throughput."""

from suite import pipeline


def level(succeeded: int, failed: dict[str, int], per_s: float = 6.0, p50: float = 130.0) -> dict:
    return {
        "requests": succeeded + sum(failed.values()),
        "ms": {"p50": p50, "p95": 160.0},
        "per_s": per_s,
        "succeeded": succeeded,
        "failed_by_error": failed,
    }


def test_failed_requests_are_counted_by_their_error() -> None:
    figures = {"c1": level(20, {}), "c16": level(60, {"States.Timeout": 3, "NoFeasibleRoute": 1})}
    c1, c16, _ = pipeline.rows(figures)
    assert c1.value.endswith("(20/20 succeeded)")
    assert c16.value.endswith("(60/64 succeeded; 3 States.Timeout; 1 NoFeasibleRoute)")


def test_the_budgets_pass_only_when_every_one_is_met() -> None:
    slow = {"c1": level(20, {}, per_s=6.1, p50=134.0), "c16": level(64, {}, per_s=4.7)}
    assert [row.verdict for row in pipeline.rows(slow)] == ["MISS", "MISS", "MISS"]

    met = {"c1": level(20, {}, per_s=12.0, p50=80.0), "c16": level(64, {}, per_s=18.0)}
    assert [row.verdict for row in pipeline.rows(met)] == ["PASS", "PASS", "PASS"]


def test_the_cpu_a_request_costs_each_process_is_shown_where_it_was_measured() -> None:
    # [the interpreter's process, moto's data services, the handlers' worker processes]
    measured = level(20, {}) | {"cpu_ms": [50.0, 41.0, 42.4]}
    unmeasured = level(64, {}) | {"cpu_ms": [None, None, None]}
    c1, c16, _ = pipeline.rows({"c1": measured, "c16": unmeasured})
    assert c1.value.endswith(
        "(20/20 succeeded; CPU 133 ms a request: 50 interpreter, 42 handlers, 41 data services)"
    )
    assert c16.value.endswith("(64/64 succeeded)")
