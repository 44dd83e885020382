"""The model registry file: the shipped default, and errors that name the line, entry and field."""

import json
from pathlib import Path

import pytest

from mecroute.adapters.registry_file import (
    DEFAULT_MODELS_FILE,
    MODELS_FILE_VARIABLE,
    RegistryFileError,
    load_registry,
    models_file,
)
from mecroute.local.cli import main
from mecroute.mec.zoo import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]


def shipped() -> dict:
    return json.loads(DEFAULT_MODELS_FILE.read_text())


def write(tmp_path: Path, registry: dict) -> Path:
    path = tmp_path / "models.json"
    path.write_text(json.dumps(registry, indent=2))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RegistryFileError) as raised:
        load_registry(path)
    return raised.value.problems


def test_the_shipped_registry_prices_the_cloud_model_as_bedrock_lists_claude_3_haiku() -> None:
    registry = load_registry(DEFAULT_MODELS_FILE)
    cloud = next(entry for entry in registry.models if entry.provider == "bedrock")
    assert cloud.bedrock_model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    assert (cloud.price_per_million_input_usd, cloud.price_per_million_output_usd) == (0.25, 1.25)
    assert registry.prices_read_on.isoformat() == "2026-11-29"
    assert "aws.amazon.com/bedrock/pricing" in cloud.price_source


def test_the_deployed_bedrock_model_is_the_one_the_registry_prices() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    bedrock = [entry for entry in CATALOGUE if entry.provider == "bedrock"]
    assert [entry.bedrock_model_id for entry in bedrock] == [context["bedrock_model_id"]]


def test_the_zoo_serves_the_file_prices_per_thousand_tokens() -> None:
    cloud = next(entry for entry in CATALOGUE if entry.model_id == "cloud-frontier-v1")
    assert cloud.price_per_1k_input_usd == pytest.approx(0.00025)
    assert cloud.price_per_1k_output_usd == pytest.approx(0.00125)


def test_a_wrong_value_names_the_line_entry_and_field(tmp_path: Path) -> None:
    registry = shipped()
    registry["models"][1]["accuracy"]["average"] = 1.5
    path = write(tmp_path, registry)
    entry_starts = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text == "    {"]
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:{entry_starts[1]}: models[1] (edge-small-v1), ")
    assert "field accuracy.average: Input should be less than or equal to 1" in problem


def test_a_mistyped_field_is_an_error_not_silently_ignored(tmp_path: Path) -> None:
    registry = shipped()
    entry = registry["models"][0]
    entry["price_per_milion_input_usd"] = entry.pop("price_per_million_input_usd")
    messages = problems(write(tmp_path, registry))
    assert any("field price_per_milion_input_usd: Extra inputs" in m for m in messages)
    assert any("field price_per_million_input_usd: Field required" in m for m in messages)


def test_a_bedrock_model_needs_its_bedrock_model_id(tmp_path: Path) -> None:
    registry = shipped()
    del registry["models"][3]["bedrock_model_id"]
    (problem,) = problems(write(tmp_path, registry))
    assert "models[3] (cloud-frontier-v1)" in problem
    assert "needs its bedrock_model_id" in problem


def test_a_model_listed_twice_is_refused(tmp_path: Path) -> None:
    registry = shipped()
    registry["models"].append(registry["models"][0])
    (problem,) = problems(write(tmp_path, registry))
    assert "listed more than once: tinytext-device-v1" in problem


def test_broken_json_names_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text('{\n  "models": [,]\n}\n')
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:2:")
    assert "not valid JSON" in problem


def test_the_file_can_be_pointed_elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(MODELS_FILE_VARIABLE, str(tmp_path / "mine.json"))
    assert models_file() == tmp_path / "mine.json"
    monkeypatch.delenv(MODELS_FILE_VARIABLE)
    assert models_file() == DEFAULT_MODELS_FILE


def test_validate_command_exits_1_with_the_problems_and_0_on_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "validate", str(DEFAULT_MODELS_FILE)]) == 0
    assert "cloud-frontier-v1" in capsys.readouterr().out

    registry = shipped()
    registry["models"][2]["tiers"] = ["edge"]
    assert main(["registry", "validate", str(write(tmp_path, registry))]) == 1
    err = capsys.readouterr().err
    assert "models[2] (edge-large-v1), field tiers.0" in err
    assert "Traceback" not in err
