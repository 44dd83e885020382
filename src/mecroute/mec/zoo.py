"""The model zoo: real ONNX graphs, built here from seeded weights (nothing is downloaded).

Each model is a multilayer perceptron over hashed prompt features whose width and depth grow
with its declared size, so compute and memory scale the way the tiers' models do. Their
graphs emulate the cost of inference; the entries (prices, accuracy and their sources) come from
the registry file a person edits, src/mecroute/models.json.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecroute.adapters.files import REGISTRY_FILE
from mecroute.adapters.onnx_engine import FEATURES
from mecroute.adapters.registry_file import load_registry
from mecroute.domain.registry import ModelRegistry, ModelSpec, OutcomeReference, Provider, Tier

LABELS = 16


@dataclass(frozen=True)
class ZooEntry:
    """A registry file entry as the zoo builds and serves it (prices per 1,000 tokens)."""

    model_id: str
    tiers: tuple[Tier, ...]
    width: int
    depth: int
    latency_ms: float
    accuracy: float
    accuracy_source: str
    accuracy_easy: float
    accuracy_hard: float
    outcome_reference: OutcomeReference
    price_per_1k_input_usd: float
    price_per_1k_output_usd: float
    use_cases: tuple[str, ...]
    provider: Provider = "mecroute-zoo"
    bedrock_model_id: str = ""
    context_window_tokens: int | None = None


def catalogue(registry: ModelRegistry) -> tuple[ZooEntry, ...]:
    return tuple(
        ZooEntry(
            model_id=entry.model_id,
            tiers=tuple(entry.tiers),
            width=entry.emulation.width,
            depth=entry.emulation.depth,
            latency_ms=entry.latency.reference_ms,
            accuracy=entry.accuracy.average,
            accuracy_source=entry.accuracy.source,
            accuracy_easy=entry.accuracy.easy,
            accuracy_hard=entry.accuracy.hard,
            outcome_reference=entry.accuracy.outcome_reference,
            price_per_1k_input_usd=entry.price_per_million_input_usd / 1000,
            price_per_1k_output_usd=entry.price_per_million_output_usd / 1000,
            use_cases=tuple(entry.use_cases),
            provider=entry.provider,
            bedrock_model_id=entry.bedrock_model_id,
            context_window_tokens=entry.context_window_tokens,
        )
        for entry in registry.models
    )


# The registry file (src/mecroute/models.json, or $MECROUTE_MODELS_FILE), read once at import.
CATALOGUE: tuple[ZooEntry, ...] = catalogue(load_registry())


def build_graph(entry: ZooEntry) -> bytes:
    """Serialise the entry's MLP to ONNX bytes; the weights are seeded by the model id."""
    from onnx import TensorProto, helper, numpy_helper  # build-time dependency only

    seed = int.from_bytes(hashlib.sha256(entry.model_id.encode()).digest()[:4], "big")
    rng = np.random.default_rng(seed)
    nodes, initialisers = [], []
    previous, width_in = "features", FEATURES
    for layer in range(entry.depth + 1):
        width_out = LABELS if layer == entry.depth else entry.width
        weight = rng.normal(0, 1 / np.sqrt(width_in), (width_in, width_out)).astype(np.float32)
        initialisers.append(numpy_helper.from_array(weight, f"w{layer}"))
        nodes.append(helper.make_node("MatMul", [previous, f"w{layer}"], [f"h{layer}"]))
        previous = f"h{layer}"
        if layer < entry.depth:
            nodes.append(helper.make_node("Relu", [previous], [f"r{layer}"]))
            previous = f"r{layer}"
        width_in = width_out
    nodes.append(helper.make_node("Softmax", [previous], ["probabilities"], axis=-1))
    graph = helper.make_graph(
        nodes,
        entry.model_id,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, FEATURES])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, LABELS])],
        initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return bytes(model.SerializeToString())


def artifact_key(entry: ZooEntry) -> str:
    return f"models/{entry.model_id}/1/model.onnx"


def resident_memory_mb(artifact_bytes: int) -> float:
    """Memory a loaded session holds: the weights plus onnxruntime's arena and buffers."""
    return round(artifact_bytes / 1e6 * 1.5 + 8, 1)


# Bump when build_graph or the measurement changes, so cached zoo directories are rebuilt.
BUILD_VERSION = "2"
MEASURE_WARMUP = 20
MEASURE_RUNS = 200
MEASURE_PROMPT = "What is the capital of France, and why did it become the capital?"


def catalogue_digest() -> str:
    """Identifies what a zoo directory was built from: the catalogue and the build code."""
    material = repr((BUILD_VERSION, FEATURES, LABELS, CATALOGUE))
    return hashlib.sha256(material.encode()).hexdigest()


def measure_latency_ms(artifact: bytes, tier: Tier) -> float:
    """p50 of one request's onnxruntime compute with the session settings `tier` uses."""
    from mecroute.adapters.onnx_engine import TIER_THREADS, OnnxModel

    model = OnnxModel("measure", artifact, TIER_THREADS[tier])
    for _ in range(MEASURE_WARMUP):
        model.run(MEASURE_PROMPT)
    timings = sorted(model.run(MEASURE_PROMPT).compute_ms for _ in range(MEASURE_RUNS))
    return round(timings[len(timings) // 2], 4)


def build_zoo(out_dir: Path) -> list[tuple[ModelSpec, Path]]:
    """Build every artifact under out_dir, laid out like the artifacts bucket, with registry.json.

    A directory already built from the same catalogue is reused as it is (artifacts are
    re-hashed, so a file changed on disk is rebuilt, never trusted).
    """
    cached = _load_built(out_dir)
    if cached is not None:
        return cached
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for entry in CATALOGUE:
        path = out_dir / artifact_key(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = build_graph(entry)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        spec = ModelSpec(
            model_id=entry.model_id,
            tiers=list(entry.tiers),
            size_mb=round(len(data) / 1e6, 3),
            memory_mb=resident_memory_mb(len(data)),
            sha256=hashlib.sha256(data).hexdigest(),
            artifact_key=artifact_key(entry),
            latency_ms=entry.latency_ms,
            accuracy=entry.accuracy,
            accuracy_source=entry.accuracy_source,
            accuracy_easy=entry.accuracy_easy,
            accuracy_hard=entry.accuracy_hard,
            outcome_reference=entry.outcome_reference,
            price_per_1k_input_usd=entry.price_per_1k_input_usd,
            price_per_1k_output_usd=entry.price_per_1k_output_usd,
            use_cases=list(entry.use_cases),
            provider=entry.provider,
            bedrock_model_id=entry.bedrock_model_id,
            context_window_tokens=entry.context_window_tokens,
            measured_latency_ms={tier: measure_latency_ms(data, tier) for tier in entry.tiers},
        )
        built.append((spec, path))
    registry = {
        "catalogue_digest": catalogue_digest(),
        "models": [spec.model_dump(mode="json") for spec, _ in built],
    }
    tmp = out_dir / f"{REGISTRY_FILE}.tmp"
    tmp.write_text(json.dumps(registry, indent=2) + "\n")
    tmp.replace(out_dir / REGISTRY_FILE)
    return built


def _load_built(out_dir: Path) -> list[tuple[ModelSpec, Path]] | None:
    try:
        registry = json.loads((out_dir / REGISTRY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if registry.get("catalogue_digest") != catalogue_digest():
        return None
    built = []
    for model in registry["models"]:
        spec = ModelSpec.model_validate(model)
        path = out_dir / spec.artifact_key
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != spec.sha256:
            return None
        built.append((spec, path))
    return built


def default_zoo_dir() -> Path:
    """build/zoo in a source checkout (shared with the offline runtime), else a user cache."""
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file():
        return checkout / "build" / "zoo"
    return Path.home() / ".cache" / "mecroute" / "zoo"
