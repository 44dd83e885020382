"""Platform cost per million requests from handler durations, memory sizes and list prices."""

import pytest
from suite import cost

SIZES = dict.fromkeys(cost.PATH, 512)


def handlers(billed_ms: float, output_bytes: int = 2_000) -> dict[str, dict[str, float]]:
    return {
        case: {"billed_mean_ms": billed_ms, "output_bytes": output_bytes}
        for case in [*cost.PATH.values(), *(case for _, case in cost.OFF_PATH.values())]
    }


def test_fixed_part_is_one_api_call_one_execution_and_seven_lambda_requests() -> None:
    # six agents on the path, and the monitor's asynchronous store
    figures = cost.cost_per_million(handlers(1.0), asl_bytes=10_000, memory_mb=SIZES)
    assert figures["fixed_usd"] == pytest.approx(3.50 + 1.00 + 7 * 0.20)


def test_express_bills_whole_100_ms_and_64_mb_steps() -> None:
    # 6 agents x 5 ms + 7 tasks x 20 ms assumed = 170 ms (the asynchronous store's own 5 ms
    # not among them), billed as 200 ms in 64 MB
    figures = cost.cost_per_million(handlers(5.0), asl_bytes=10_000, memory_mb=SIZES)
    assert figures["express_execution_ms_estimate"] == pytest.approx(170.0)
    assert figures["express_billed_ms"] == 200
    assert figures["express_billed_memory_mb"] == 64


def test_lambda_duration_is_priced_by_memory_size() -> None:
    small = cost.cost_per_million(handlers(10.0), 10_000, memory_mb=SIZES)
    big = cost.cost_per_million(handlers(10.0), 10_000, memory_mb=SIZES | {"execute": 1024})
    assert big["lambdas"]["execute"]["duration_usd"] == pytest.approx(
        2 * small["lambdas"]["execute"]["duration_usd"]
    )
    assert big["lambdas"]["router"] == small["lambdas"]["router"]


def test_total_is_the_sum_of_its_parts_and_its_row_judges_it_against_the_budget() -> None:
    figures = cost.cost_per_million(handlers(3.0), 10_000, memory_mb=SIZES | {"execute": 1024})
    parts = figures["api_gateway_usd"] + figures["express_requests_usd"]
    parts += figures["express_duration_usd"] + figures["lambda_usd"]
    assert figures["total_usd"] == pytest.approx(parts)
    (row,) = cost.rows(figures)
    assert row.ratio == pytest.approx(figures["total_usd"] / cost.BUDGET_USD)
    assert f"${figures['total_usd']:.2f}" in row.value
