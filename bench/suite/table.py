"""The budgets table: each figure beside its budget with a verdict, printed and written as
Markdown."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the budget table."""

    figure: str
    value: str
    budget: str
    ratio: float | None  # value / budget, so ≤ 1 passes; None: no budget, shown for context

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "-"
        return "PASS" if self.ratio <= 1.0 else "MISS"


def at_most(figure: str, value: str, measured: float, budget: float, budget_text: str) -> Row:
    """A row whose figure must stay at or under its budget."""
    return Row(figure, value, budget_text, measured / budget)


def at_least(figure: str, value: str, measured: float, budget: float, budget_text: str) -> Row:
    """A row whose figure must reach its budget (a speed-up, a throughput): the ratio is
    inverted so that, as everywhere in the table, ≤ 1 passes."""
    return Row(figure, value, budget_text, budget / measured if measured > 0 else float("inf"))


def header(results: dict[str, Any]) -> str:
    machine = results["machine"]
    return (
        f"Measured {results['measured_at']} on {machine['cpus']} CPUs ({machine['machine']}), "
        f"Python {machine['python']}, onnxruntime {machine['onnxruntime']}"
        f"{', quick run' if results['quick'] else ''}; commit {results['commit']}. "
        f"Reference loop (sum of 1,000 squares): {results['reference']['us']['p50']:.1f} µs; "
        f"load average at start {results['load_average_at_start'][0]:.1f}."
    )


def markdown(table: list[Row], results: dict[str, Any], notes: list[str]) -> str:
    """The table as bench/results/latest.md shows it, with each section's notes below."""
    lines = [
        header(results),
        "",
        "| figure | measured | budget | of budget | verdict |",
        "|---|---|---|---|---|",
    ]
    for row in table:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(f"| {row.figure} | {row.value} | {row.budget} | {ratio} | {row.verdict} |")
    for note in notes:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def plain(table: list[Row]) -> str:
    """The table for a terminal: verdict and ratio first, so a MISS stands out."""
    width = max(len(row.figure) for row in table)
    lines = [f"{'figure':<{width}}  {'verdict':<7}  {'of budget':>9}  {'budget':<10}  measured"]
    for row in table:
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"{row.figure:<{width}}  {row.verdict:<7}  {ratio:>9}  {row.budget:<10}  {row.value}"
        )
    return "\n".join(lines)


def write(out: Path, table: list[Row], results: dict[str, Any], notes: list[str]) -> None:
    """latest.json (every figure, and the table with its verdicts) and latest.md."""
    results = results | {
        "table": [dataclasses.asdict(row) | {"verdict": row.verdict} for row in table]
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "latest.md").write_text(markdown(table, results, notes))
