"""`mecroute invoke`: the answer's timing is shown beside the SLA verdict it decided."""

from mecroute.local.cli import _as_json, _as_text
from mecroute.local.runtime import Run

TIMING = {"end_to_end_ms": 412.5, "routing_overhead_ms": 262.5, "execution_ms": 150.0}


def answered() -> Run:
    output = {
        "decision": None,
        "result": {"output": "Paris", "tier": "mec", "latency_ms": 150.0, "cost_usd": 0.0},
        "timing": TIMING,
        "sla_met": False,
        "failures": [],
    }
    return Run("arn", "req-1", "SUCCEEDED", output, None, None, ["AnalyzeContext"], 430.0)


def test_json_output_carries_timing_and_the_sla_verdict():
    shown = _as_json(answered())

    assert shown["timing"] == TIMING
    assert shown["sla_met"] is False


def test_text_output_splits_end_to_end_into_overhead_and_execution():
    text = _as_text(answered())

    assert "412.5 ms end to end = routing overhead 262.5 ms + execution 150.0 ms" in text
    assert "SLA missed" in text
