"""The models a node holds in memory, within its budget; the least recently used go first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from mecroute.adapters.onnx_engine import OnnxModel


class ModelNotLoaded(LookupError):
    """The node does not hold this model (never loaded, evicted, or refused)."""


class InsufficientMemory(Exception):
    """The model is larger than the node's whole memory budget: no eviction can make room."""


@dataclass(frozen=True)
class ResidentModel:
    model_id: str
    sha256: str
    memory_mb: float
    reference_latency_ms: float
    engine: OnnxModel
    context_window_tokens: int


class ResidentModels:
    """Thread-safe: requests mark models used while loads and evictions change the set."""

    def __init__(self, budget_mb: float) -> None:
        self.budget_mb = budget_mb
        self._lock = threading.Lock()
        self._by_recency: OrderedDict[str, ResidentModel] = OrderedDict()

    def use(self, model_id: str) -> ResidentModel:
        """The model, now the most recently used; an in-flight request keeps it if evicted."""
        with self._lock:
            model = self._by_recency.get(model_id)
            if model is None:
                raise ModelNotLoaded(model_id)
            self._by_recency.move_to_end(model_id)
            return model

    def get(self, model_id: str) -> ResidentModel | None:
        with self._lock:
            return self._by_recency.get(model_id)

    def check_fits(self, model_id: str, memory_mb: float) -> None:
        if memory_mb > self.budget_mb:
            raise InsufficientMemory(
                f"{model_id} needs {memory_mb:.1f} MB and this node's whole budget is "
                f"{self.budget_mb:.1f} MB: refused"
            )

    def add(self, model: ResidentModel) -> list[str]:
        """Hold `model`, evicting the least recently used until it fits; returns who went."""
        self.check_fits(model.model_id, model.memory_mb)
        evicted = []
        with self._lock:
            self._by_recency.pop(model.model_id, None)
            while self._by_recency and self._used_mb() + model.memory_mb > self.budget_mb:
                oldest, _ = self._by_recency.popitem(last=False)
                evicted.append(oldest)
            self._by_recency[model.model_id] = model
        return evicted

    def evict(self, model_id: str) -> bool:
        with self._lock:
            return self._by_recency.pop(model_id, None) is not None

    def ids(self) -> list[str]:
        """Loaded model ids, least recently used first."""
        with self._lock:
            return list(self._by_recency)

    def used_mb(self) -> float:
        with self._lock:
            return self._used_mb()

    def _used_mb(self) -> float:
        return round(sum(model.memory_mb for model in self._by_recency.values()), 1)
