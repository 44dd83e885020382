"""How long a model computes for a request: shared by the router's predictions, the nodes'
emulation and the simulator. Kept free of numpy so the router stays light."""


def emulated_compute_ms(reference_ms: float, total_tokens: int, speed_factor: float) -> float:
    """A model's compute time for a request: `reference_ms` is for 100 tokens at speed 1."""
    return reference_ms * max(0.25, total_tokens / 100) / speed_factor
