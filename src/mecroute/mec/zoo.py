"""The model zoo: real ONNX graphs, built here from seeded weights (nothing is downloaded).

Each model is a multilayer perceptron over hashed prompt features whose width and depth grow
with its declared size, so compute and memory scale the way the tiers' models do. Their
outputs are labels, not language: the zoo emulates the cost of inference, and the accuracy
figures in the registry come from the sources named in `accuracy_source`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecroute.adapters.files import REGISTRY_FILE
from mecroute.adapters.onnx_engine import FEATURES
from mecroute.domain.registry import ModelSpec, OutcomeReference, Tier

LABELS = 16
MMLU_SOURCE = "routellm-mmlu test split (see docs); MEC-class = Mixtral-8x7B, cloud-class = GPT-4"
# Accuracy on prompts the MEC-class model answers right / wrong: measured on the train split
# for the cloud-class model, by definition for the MEC-class one, modelled for the others.
CLOUD_EASY, CLOUD_HARD = 0.9195, 0.5541


@dataclass(frozen=True)
class ZooEntry:
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


CATALOGUE: tuple[ZooEntry, ...] = (
    ZooEntry(
        model_id="tinytext-device-v1",
        tiers=("device", "mec"),
        width=128,
        depth=2,
        latency_ms=15.0,
        accuracy=0.5785,
        accuracy_source="modelled: right on 80% of what the MEC-class model gets right, 10% else",
        accuracy_easy=0.8,
        accuracy_hard=0.1,
        outcome_reference=None,
        price_per_1k_input_usd=0.0,
        price_per_1k_output_usd=0.0,
        use_cases=("classification", "qa", "chat"),
    ),
    ZooEntry(
        model_id="edge-small-v1",
        tiers=("mec",),
        width=384,
        depth=3,
        latency_ms=35.0,
        accuracy=0.6578,
        accuracy_source="modelled: right on 95% of what the MEC-class model gets right, 3% else",
        accuracy_easy=0.95,
        accuracy_hard=0.03,
        outcome_reference=None,
        price_per_1k_input_usd=0.00002,
        price_per_1k_output_usd=0.00004,
        use_cases=("classification", "qa", "chat", "summarization"),
    ),
    ZooEntry(
        model_id="edge-large-v1",
        tiers=("mec",),
        width=768,
        depth=5,
        latency_ms=80.0,
        accuracy=0.6824,
        accuracy_source=MMLU_SOURCE,
        accuracy_easy=1.0,
        accuracy_hard=0.0,
        outcome_reference="mec-class",
        price_per_1k_input_usd=0.00006,
        price_per_1k_output_usd=0.00012,
        use_cases=("qa", "chat", "summarization", "generation", "code"),
    ),
    ZooEntry(
        model_id="cloud-frontier-v1",
        tiers=("cloud",),
        width=1024,
        depth=4,
        latency_ms=450.0,
        accuracy=0.8130,
        accuracy_source=MMLU_SOURCE,
        accuracy_easy=CLOUD_EASY,
        accuracy_hard=CLOUD_HARD,
        outcome_reference="cloud-class",
        price_per_1k_input_usd=0.003,
        price_per_1k_output_usd=0.015,
        use_cases=("qa", "chat", "summarization", "generation", "code", "translation"),
    ),
)


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
