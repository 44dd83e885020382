"""`mecroute eval-router` on the committed labelled prompts: interval, baselines, JSON output."""

import json
from pathlib import Path

import pytest

from mecroute.evaluation import dataset
from mecroute.local.cli import main

LABELLED = Path(__file__).resolve().parents[2] / "training" / "labelled"


def run_json(capsys, *extra: str) -> dict:
    assert main(["eval-router", "--data", str(LABELLED), "--split", "all", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_report_has_the_interval_and_the_baselines(capsys):
    result = run_json(capsys, "--bootstrap", "200")

    assert result["split"] == "all"
    assert result["rows"] == len(dataset.read(LABELLED, "all"))
    low, high = result["apgr_95"]
    assert low <= result["apgr"] <= high
    for baseline in ("random", "prompt_length", "oracle"):
        assert set(result[baseline]) >= {"apgr", "cpt50", "cloud_share_for_95", "rows"}
    assert result["random"]["apgr"] == pytest.approx(0.5, abs=0.01)
    assert result["oracle"]["apgr"] > result["apgr"]


def test_by_file_reports_each_kind_of_prompt(capsys):
    result = run_json(capsys, "--bootstrap", "50", "--by-file")

    kinds = {p.stem for p in LABELLED.glob("*.csv")}
    assert set(result["by_file"]) == kinds
    assert sum(part["rows"] for part in result["by_file"].values()) == result["rows"]


def test_text_report_prints_length_beside_random_and_oracle(capsys):
    assert (
        main(["eval-router", "--data", str(LABELLED), "--split", "all", "--bootstrap", "50"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    names = [line.split("  ")[0] for line in lines[2:6]]
    assert names == ["random", "prompt length", "complexity model", "oracle"]
    assert "95% interval" in lines[1]


def test_figures_on_the_training_data_are_flagged(capsys, tmp_path):
    # Given a directory named like the one the shipped model was trained on
    from mecroute.complexity.model import shipped

    trained_on = shipped().card["trained_on"].split(" train split")[0]
    data = tmp_path / trained_on
    data.mkdir()
    for path in LABELLED.glob("*.csv"):
        (data / path.name).write_text(path.read_text())

    assert main(["eval-router", "--data", str(data), "--split", "all", "--json"]) == 0
    assert "training data" in json.loads(capsys.readouterr().out)["warning"]
    assert main(["eval-router", "--data", str(data), "--split", "test", "--json"]) == 0
    assert "warning" not in json.loads(capsys.readouterr().out)
