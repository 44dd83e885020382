"""The MEC tier: the ONNX model zoo, the engine that runs it and the node that serves it."""
