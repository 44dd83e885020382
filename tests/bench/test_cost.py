"""Platform cost per million requests from handler durations, memory sizes, the AWS calls' units
and list prices."""

from typing import Any

import pytest
from suite import cost

SIZES = dict.fromkeys([*cost.PATH, "aggregator"], 512)
BATCH = 100


def handlers(
    billed_ms: float, output_bytes: int = 2_000, units: dict[str, float] | None = None
) -> dict[str, dict[str, Any]]:
    return {
        case: {
            "billed_mean_ms": billed_ms,
            "output_bytes": output_bytes,
            "aws_units_per_invocation": units or {},
        }
        for case in [*cost.PATH.values(), *(case for _, case in cost.OFF_PATH.values())]
    }


def per_million(figures: float, memory_mb: dict[str, int] = SIZES) -> dict[str, Any]:
    return cost.cost_per_million(handlers(figures), 10_000, memory_mb, BATCH)


def test_fixed_part_is_one_api_call_one_execution_and_the_lambda_requests() -> None:
    # six agents on the path, the monitor's asynchronous store, a share of the aggregator's
    figures = per_million(1.0)
    assert figures["fixed_usd"] == pytest.approx(3.50 + 1.00 + 7 * 0.20 + 0.20 / BATCH)


def test_express_bills_whole_100_ms_and_64_mb_steps() -> None:
    # 6 agents x 5 ms + 7 tasks x 20 ms assumed = 170 ms (the asynchronous store's and the
    # aggregator's own 5 ms not among them), billed as 200 ms in 64 MB
    figures = per_million(5.0)
    assert figures["express_execution_ms_estimate"] == pytest.approx(170.0)
    assert figures["express_billed_ms"] == 200
    assert figures["express_billed_memory_mb"] == 64


def test_lambda_duration_is_priced_by_memory_size() -> None:
    small = per_million(10.0)
    big = per_million(10.0, SIZES | {"execute": 1024})
    assert big["lambdas"]["execute"]["duration_usd"] == pytest.approx(
        2 * small["lambdas"]["execute"]["duration_usd"]
    )
    assert big["lambdas"]["router"] == small["lambdas"]["router"]


def test_total_is_the_sum_of_its_parts_and_its_row_judges_it_against_the_budget() -> None:
    units = {"dynamodb_write_units": 2.0, "kinesis_kb": 1.0}
    figures = cost.cost_per_million(handlers(3.0, units=units), 10_000, SIZES, BATCH)
    parts = figures["api_gateway_usd"] + figures["express_requests_usd"]
    parts += figures["express_duration_usd"] + figures["lambda_usd"] + figures["data_usd"]
    assert figures["total_usd"] == pytest.approx(parts)
    (row,) = cost.rows(figures)
    assert row.ratio == pytest.approx(figures["total_usd"] / cost.BUDGET_USD)
    assert f"${figures['total_usd']:.2f}" in row.value


def test_every_invoked_case_s_table_writes_are_priced_per_unit() -> None:
    # 2 write units in each of the 8 invoked cases: 16 units at $0.625 per million units
    figures = cost.cost_per_million(
        handlers(1.0, units={"dynamodb_write_units": 2.0}), 10_000, SIZES, BATCH
    )
    written = figures["data"]["priced"]["dynamodb_write_units"]
    assert written["per_request"] == pytest.approx(16.0)
    assert written["usd"] == pytest.approx(16 * 0.625)


def test_a_call_without_a_price_is_named_in_the_row() -> None:
    figures = cost.cost_per_million(
        handlers(1.0, units={"call sqs:SendMessage": 1.0}), 10_000, SIZES, BATCH
    )
    (row,) = cost.rows(figures)
    assert "not priced: 8 call sqs:SendMessage" in row.value
