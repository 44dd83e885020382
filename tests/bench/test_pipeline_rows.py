"""The offline pipeline's rows say how many requests failed and with which error."""

from suite import pipeline


def level(succeeded: int, failed: dict[str, int]) -> dict:
    return {
        "requests": succeeded + sum(failed.values()),
        "ms": {"p50": 130.0, "p95": 160.0},
        "per_s": 6.0,
        "succeeded": succeeded,
        "failed_by_error": failed,
    }


def test_failed_requests_are_counted_by_their_error() -> None:
    figures = {"c1": level(20, {}), "c16": level(60, {"States.Timeout": 3, "NoFeasibleRoute": 1})}
    c1, c16 = pipeline.rows(figures)
    assert c1.value.endswith("(20/20 succeeded)")
    assert c16.value.endswith("(60/64 succeeded; 3 States.Timeout; 1 NoFeasibleRoute)")
    assert c16.verdict == "-"
