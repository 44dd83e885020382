"""Cold init: each agent against the floor it shares (plus onnxruntime for ONNX agents)."""

import pytest
from suite import cold_init


def runs(value: float) -> list[float]:
    return [value, value + 10, value - 10]


def figures() -> dict[str, list[float]]:
    return {
        "floor": runs(200.0),
        "floor + onnxruntime": runs(400.0),
        "floor, pydantic loaded": runs(250.0),
        "floor, pydantic loaded + onnxruntime": runs(450.0),
        "router": runs(240.0),
        "execute": runs(600.0),
    }


def test_an_onnx_agent_is_measured_against_the_floor_plus_onnxruntime() -> None:
    compared = cold_init.compare(figures(), figures(), frozenset({"execute"}))
    assert compared["agents"]["execute"]["baseline"] == "floor + onnxruntime"
    assert compared["agents"]["execute"]["ratio"] == pytest.approx(1.5)
    assert compared["agents"]["router"]["baseline"] == "floor"
    assert compared["agents"]["router"]["ratio"] == pytest.approx(1.2)


def test_rows_pass_under_the_ratio_budget_and_miss_over_it() -> None:
    compared = cold_init.compare(figures(), figures(), frozenset({"execute"}))
    verdicts = {row.figure: row.verdict for row in cold_init.rows({"runs": 3, **compared})}
    assert verdicts == {
        "Cold init: router (CPU time)": "PASS",
        "Cold init: execute (CPU time)": "MISS",
    }


def test_a_fresh_interpreter_reports_whether_the_imports_loaded_onnxruntime() -> None:
    # An agent is judged against floor + onnxruntime only if its imports really load it.
    *_, plain = cold_init.cold_once("import json\n", None)
    *_, with_onnx = cold_init.cold_once("import onnxruntime\n", None)
    assert (plain, with_onnx) == (False, True)
