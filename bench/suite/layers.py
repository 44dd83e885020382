"""The Lambda layers' and functions' unzipped sizes, built as `cdk synth` builds them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mecroute.lambda_support.manifest import AGENTS, ONNX_AGENTS
from suite.paths import BUILD_DIR, LAMBDAS_DIR, ROOT
from suite.table import Row, at_most

LAYER_BUDGET_MB = 150.0
# Lambda's own quota: a function and all its layers, unzipped.
LAMBDA_UNZIPPED_QUOTA_MB = 250.0
LAYER_CACHE = BUILD_DIR / "layers"


def tree_bytes(directory: Path) -> int:
    return sum(
        p.lstat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink()
    )


def run() -> dict[str, Any]:
    """Built exactly as `cdk synth` builds them (infra/layers.py's PipBundler), cached by the
    same content hash the asset uses, so a rerun with nothing changed builds nothing."""
    from infra import layers as infra_layers

    extra = " ".join([*infra_layers.PIP_TARGET_FLAGS, *infra_layers.RUNTIME_PROVIDED])
    sizes: dict[str, Any] = {}
    for name, include_package in (("shared", True), ("onnx", False)):
        requirements = ROOT / "layers" / name / "requirements.txt"
        inputs = [requirements, infra_layers.PACKAGE_DIR] if include_package else [requirements]
        digest = infra_layers.content_hash(*inputs, Path(infra_layers.__file__), extra=extra)
        built = LAYER_CACHE / f"{name}-{digest[:16]}"
        cached = built.is_dir()
        if not cached:
            LAYER_CACHE.mkdir(parents=True, exist_ok=True)
            for stale in LAYER_CACHE.glob(f"{name}-*"):
                shutil.rmtree(stale)
            scratch = Path(tempfile.mkdtemp(dir=LAYER_CACHE))
            try:
                bundler = infra_layers.PipBundler(requirements, include_package=include_package)
                bundler.try_bundle(str(scratch), image=None)  # type: ignore[arg-type]
            except BaseException:
                shutil.rmtree(scratch)
                raise
            scratch.rename(built)
        size = tree_bytes(built)
        sizes[name] = {
            "bytes": size,
            "mb": size / 1e6,
            "path": str(built.relative_to(ROOT)),
            "cached": cached,
        }
    return {"layers": sizes, "function_mb": function_sizes(sizes)}


def function_sizes(layers: dict[str, Any]) -> dict[str, float]:
    """Each agent's code plus the layers it attaches, unzipped, in MB (Lambda allows 250)."""
    totals = {}
    for agent in AGENTS:
        code = sum(
            p.stat().st_size
            for p in (LAMBDAS_DIR / agent).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
        attached = ["shared", *(["onnx"] if agent in ONNX_AGENTS else [])]
        totals[agent] = (code + sum(layers[name]["bytes"] for name in attached)) / 1e6
    return totals


def rows(figures: dict[str, Any]) -> list[Row]:
    table = [
        at_most(
            f"Layer `{name}` unzipped",
            f"{layer['mb']:.1f} MB",
            layer["mb"],
            LAYER_BUDGET_MB,
            f"≤ {LAYER_BUDGET_MB:g} MB",
        )
        for name, layer in figures["layers"].items()
    ]
    agent, total_mb = max(figures["function_mb"].items(), key=lambda item: item[1])
    table.append(
        at_most(
            f"Largest function + its layers unzipped ({agent})",
            f"{total_mb:.1f} MB",
            total_mb,
            LAMBDA_UNZIPPED_QUOTA_MB,
            f"≤ {LAMBDA_UNZIPPED_QUOTA_MB:g} MB (Lambda quota)",
        )
    )
    return table
