"""Writes a fitted Pipeline as one ONNX graph: (prompt string, features) -> complexity in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import StringTensorType

from mecroute.complexity.features import FEATURES
from pipeline import Pipeline


def export(pipeline: Pipeline, path: Path) -> None:
    """TF-IDF through skl2onnx; heads, stack and combiner as plain ONNX operators."""
    model = convert_sklearn(
        pipeline.vectoriser,
        "complexity",
        initial_types=[("prompt", StringTensorType([None, 1]))],
        # The C locale: the default asks onnxruntime for en_US.UTF-8, absent here and in Lambda.
        options={id(pipeline.vectoriser): {"locale": "C"}},
        target_opset=17,
    )
    graph = model.graph
    tfidf = graph.output[0].name
    del graph.output[:]
    graph.input.append(
        helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, len(FEATURES)])
    )
    heads, stack, combiner = pipeline.heads, pipeline.stack, pipeline.combiner
    subjects = heads.n_subjects
    inverse_scale = 1 / combiner.text_scale
    constants = {
        "head_w": heads.weights,
        "head_b": heads.biases,
        "subject_prior": heads.prior,
        "stack_w": stack.coef_.reshape(-1, 1),
        "stack_b": np.array([stack.intercept_]),
        "z_scale": np.array([inverse_scale]),
        "z_shift": np.array([-combiner.text_mean * inverse_scale]),
        "text_weights": combiner.text_weights.reshape(1, 2),
        "feature_weights": combiner.weights,
        "branch_biases": combiner.biases,
        "one": np.array([1.0]),
        "pick_sum": np.ones((2, 1)),
        "at_0": np.array([0], np.int64),
        "at_subjects": np.array([subjects], np.int64),
        "at_end": np.array([subjects + 3], np.int64),
        "axis_1": np.array([1], np.int64),
        "choices_column": np.array([FEATURES.index("multiple_choice")], np.int64),
    }
    graph.initializer.extend(
        numpy_helper.from_array(
            value if value.dtype == np.int64 else value.astype(np.float32), name
        )
        for name, value in constants.items()
    )
    node = helper.make_node
    graph.node.extend(
        [
            node("MatMul", [tfidf, "head_w"], ["head_wx"]),
            node("Add", ["head_wx", "head_b"], ["logits"]),
            node("Slice", ["logits", "at_0", "at_subjects", "axis_1"], ["subject_logits"]),
            node("Softmax", ["subject_logits"], ["subject_p"], axis=1),
            node("MatMul", ["subject_p", "subject_prior"], ["from_subject"]),
            node("Slice", ["logits", "at_subjects", "at_end", "axis_1"], ["ridge_out"]),
            node("Concat", ["from_subject", "ridge_out"], ["head_out"], axis=1),
            node("MatMul", ["head_out", "stack_w"], ["stack_wx"]),
            node("Add", ["stack_wx", "stack_b"], ["text"]),
            node("Mul", ["text", "z_scale"], ["text_scaled"]),
            node("Add", ["text_scaled", "z_shift"], ["z"]),
            node("Mul", ["z", "text_weights"], ["text_term"]),
            node("MatMul", ["features", "feature_weights"], ["feature_term"]),
            node("Add", ["text_term", "feature_term"], ["terms"]),
            node("Add", ["terms", "branch_biases"], ["branch_logits"]),
            node("Gather", ["features", "choices_column"], ["on_mmlu"], axis=1),
            node("Sub", ["one", "on_mmlu"], ["off_mmlu"]),
            node("Concat", ["on_mmlu", "off_mmlu"], ["branch"], axis=1),
            node("Mul", ["branch_logits", "branch"], ["picked"]),
            node("MatMul", ["picked", "pick_sum"], ["logit"]),
            node("Sigmoid", ["logit"], ["complexity"]),
        ]
    )
    graph.output.append(helper.make_tensor_value_info("complexity", TensorProto.FLOAT, [None, 1]))
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
