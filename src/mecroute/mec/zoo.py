"""The model zoo: real ONNX graphs, built here from seeded weights (nothing is downloaded).

Each model is a multilayer perceptron over hashed prompt features whose width and depth grow
with its declared size, so compute and memory scale the way the tiers' models do. Their
outputs are labels, not language: the zoo emulates the cost of inference, and the accuracy
figures in the registry come from the sources named in `accuracy_source`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mecroute.domain.registry import ModelSpec, Tier
from mecroute.mec.engine import FEATURES

LABELS = 16
MMLU_SOURCE = "routellm-mmlu test split (see docs); MEC-class = Mixtral-8x7B, cloud-class = GPT-4"


@dataclass(frozen=True)
class ZooEntry:
    model_id: str
    tiers: tuple[Tier, ...]
    width: int
    depth: int
    latency_ms: float
    accuracy: float
    accuracy_source: str
    capability: float
    price_per_1k_input_usd: float
    price_per_1k_output_usd: float
    use_cases: tuple[str, ...]


CATALOGUE: tuple[ZooEntry, ...] = (
    ZooEntry("tinytext-device-v1", ("device", "mec"), 128, 2, 15.0, 0.55,
             "modelled: a phone-class model below the MEC-class figure", 0.15, 0.0, 0.0,
             ("classification", "qa", "chat")),
    ZooEntry("edge-small-v1", ("mec",), 384, 3, 35.0, 0.62,
             "modelled: between device and MEC-class figures", 0.35, 0.00002, 0.00004,
             ("classification", "qa", "chat", "summarization")),
    ZooEntry("edge-large-v1", ("mec",), 768, 5, 80.0, 0.6824, MMLU_SOURCE, 0.55,
             0.00006, 0.00012, ("qa", "chat", "summarization", "generation", "code")),
    ZooEntry("cloud-frontier-v1", ("cloud",), 1024, 4, 450.0, 0.8130, MMLU_SOURCE, 0.9,
             0.003, 0.015, ("qa", "chat", "summarization", "generation", "code", "translation")),
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


def build_zoo(out_dir: Path) -> list[tuple[ModelSpec, Path]]:
    """Write every artifact under out_dir (reusing ones already built) and return registry entries."""
    out_dir.mkdir(parents=True, exist_ok=True)
    built = []
    for entry in CATALOGUE:
        path = out_dir / f"{entry.model_id}.onnx"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(build_graph(entry))
            tmp.replace(path)
        data = path.read_bytes()
        spec = ModelSpec(
            model_id=entry.model_id,
            tiers=list(entry.tiers),
            size_mb=round(len(data) / 1e6, 3),
            memory_mb=round(len(data) / 1e6 * 1.5 + 8, 1),
            sha256=hashlib.sha256(data).hexdigest(),
            artifact_key=artifact_key(entry),
            latency_ms=entry.latency_ms,
            accuracy=entry.accuracy,
            accuracy_source=entry.accuracy_source,
            capability=entry.capability,
            price_per_1k_input_usd=entry.price_per_1k_input_usd,
            price_per_1k_output_usd=entry.price_per_1k_output_usd,
            use_cases=list(entry.use_cases),
        )
        built.append((spec, path))
    return built
