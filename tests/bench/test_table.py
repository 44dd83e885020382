"""The budgets table: verdicts, inverted ratios for speed-ups, and what latest.md shows."""

import json

from suite.table import Row, at_least, at_most, markdown, plain, write

RESULTS = {
    "measured_at": "2026-11-29 21:00 UTC",
    "commit": "abc1234",
    "quick": False,
    "machine": {"machine": "x86_64", "cpus": 2, "python": "3.11.7", "onnxruntime": "1.32.0"},
    "reference": {"us": {"p50": 40.0}},
    "load_average_at_start": (1.0, 1.0, 1.0),
}


def test_a_figure_within_its_budget_passes_and_one_over_it_misses() -> None:
    assert at_most("router", "90 µs", 90.0, 100.0, "≤ 100 µs").verdict == "PASS"
    assert at_most("router", "100 µs", 100.0, 100.0, "≤ 100 µs").verdict == "PASS"
    assert at_most("router", "101 µs", 101.0, 100.0, "≤ 100 µs").verdict == "MISS"


def test_a_speed_up_that_must_reach_its_budget_is_inverted() -> None:
    # Given a budget of "at least 3x faster"
    # When the measured speed-up is 4x, 3x and 2x
    # Then the first two pass, the last misses by 1.5 (3 / 2)
    assert at_least("ratio", "4x", 4.0, 3.0, "≥ 3x").verdict == "PASS"
    assert at_least("ratio", "3x", 3.0, 3.0, "≥ 3x").verdict == "PASS"
    slower = at_least("ratio", "2x", 2.0, 3.0, "≥ 3x")
    assert slower.verdict == "MISS"
    assert slower.ratio == 1.5


def test_a_figure_without_budget_has_no_verdict() -> None:
    assert Row("pipeline", "6 req/s", "-", None).verdict == "-"


def test_markdown_shows_each_figure_beside_its_budget_with_the_notes_below() -> None:
    table = [
        at_most("Router decision p50", "90 µs", 90.0, 100.0, "≤ 100 µs"),
        Row("Offline pipeline", "6 req/s", "-", None),
    ]
    text = markdown(table, RESULTS, ["Cost table here."])
    assert "commit abc1234" in text
    assert "| Router decision p50 | 90 µs | ≤ 100 µs | 0.90 | PASS |" in text
    assert "| Offline pipeline | 6 req/s | - | - | - |" in text
    assert text.rstrip().endswith("Cost table here.")


def test_the_terminal_table_puts_the_verdict_before_the_figure() -> None:
    lines = plain([at_most("Cold init: router", "1.4x", 1.4, 1.3, "≤ 1.3x")]).splitlines()
    assert lines[1].split()[:5] == ["Cold", "init:", "router", "MISS", "1.08"]


def test_write_keeps_every_figure_and_the_verdicts(tmp_path) -> None:
    table = [at_most("Router decision p50", "120 µs", 120.0, 100.0, "≤ 100 µs")]
    write(tmp_path, table, RESULTS | {"router": {"us": {"p50": 120.0}}}, [])
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert saved["router"]["us"]["p50"] == 120.0
    assert saved["table"][0]["verdict"] == "MISS"
    assert "| MISS |" in (tmp_path / "latest.md").read_text()
