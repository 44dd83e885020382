"""What the layers carry: the pinned versions, without the runtime's boto3, and nothing a
function imports is missing from the layers attached to it."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from infra.layers import RUNTIME_PROVIDED, content_hash, remove_distributions

from mecroute.lambda_support.manifest import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        name, _, version = line.strip().partition("==")
        if version:
            found[name.split("[")[0].lower()] = version
    return found


def test_layer_requirements_pin_what_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = pins(project)
    for layer in ("shared", "onnx"):
        lines = (ROOT / "layers" / layer / "requirements.txt").read_text().splitlines()
        for name, version in pins(lines).items():
            assert declared[name] == version, f"{layer}: {name}"


def test_boto3_is_left_to_the_runtime():
    for layer in ("shared", "onnx"):
        names = pins((ROOT / "layers" / layer / "requirements.txt").read_text().splitlines())
        assert not set(names) & {"boto3", "botocore"}
    assert {"boto3", "botocore"} <= set(RUNTIME_PROVIDED)


def test_remove_distributions_uninstalls_by_record(tmp_path: Path):
    def install(name: str, version: str, files: list[str]) -> None:
        dist_info = tmp_path / f"{name}-{version}.dist-info"
        dist_info.mkdir()
        for file in files:
            (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / file).write_text("x")
        (dist_info / "RECORD").write_text("".join(f"{f},sha256=,1\n" for f in files))

    install("botocore", "1.44.5", ["botocore/__init__.py", "botocore/data/s3/api.json"])
    install("python_dateutil", "2.9.0.post0", ["dateutil/__init__.py"])
    install("pydantic", "2.14.3", ["pydantic/__init__.py"])

    remove_distributions(tmp_path, ("botocore", "python_dateutil"))

    assert sorted(p.name for p in tmp_path.iterdir()) == ["pydantic", "pydantic-2.14.3.dist-info"]


def test_a_layer_is_rebuilt_when_its_package_source_changes(tmp_path: Path):
    (tmp_path / "module.py").write_text("A = 1\n")
    before = content_hash(tmp_path)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "module.pyc").write_bytes(b"noise")
    assert content_hash(tmp_path) == before  # bytecode is not source
    (tmp_path / "module.py").write_text("A = 2\n")
    assert content_hash(tmp_path) != before


# Runs in a fresh interpreter: imports each handler with what its layers do not ship blocked.
_IMPORT_CHECK = """
import importlib.abc, json, os, sys
blocked = set(json.loads(sys.argv[1]))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked or name.startswith("mecroute.local"):
            raise ImportError(f"{name} is not in this function's layers")
sys.meta_path.insert(0, Block())
import importlib.util
failures = {}
for source in json.loads(sys.argv[2]):
    path = f"lambdas/{source}/handler.py"
    spec = importlib.util.spec_from_file_location(f"handler_{source}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        failures[source] = f"{type(error).__name__}: {error}"
print(json.dumps(failures))
"""


def _import_failures(blocked: list[str], sources: list[str]) -> dict[str, str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        **{name: f"{name.lower()}-x" for name in (
            "MODELS_TABLE", "NODES_TABLE", "DECISIONS_TABLE", "STATS_TABLE", "CACHE_TABLE",
            "IDEMPOTENCY_TABLE", "ARTIFACTS_BUCKET", "METRICS_STREAM",
            "RECORD_DEAD_LETTERS_QUEUE", "BREAKERS_TABLE", "USAGE_TABLE")},
    }  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK, json.dumps(blocked), json.dumps(sources)],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    failures: dict[str, str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return failures


def test_functions_without_the_onnx_layer_never_import_numpy_or_onnxruntime():
    sources = [spec.name for spec in FUNCTIONS if not spec.onnx]
    assert _import_failures(["numpy", "onnxruntime", "onnx", "moto"], sources) == {}


def test_no_function_imports_the_http_services_framework():
    # Starlette and uvicorn serve the MEC node, the local API and the gateway; no layer ships
    # them, so a handler importing mecroute.adapters.web (or the node app) would fail in Lambda.
    sources = [spec.name for spec in FUNCTIONS]
    assert _import_failures(["starlette", "uvicorn", "h11", "httpx"], sources) == {}
