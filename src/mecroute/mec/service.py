"""What a MEC node does, without HTTP: admit and run requests, load and evict models, report.

Compute is real onnxruntime; the site's profile then stretches it to the emulated time of the
model the graph stands for (holding the slot, so queueing is real), and adds the site's
network round trip for clients that do not model the network themselves.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from mecroute.adapters.onnx_engine import TIER_THREADS, OnnxModel
from mecroute.adapters.ports import ArtifactStore, ModelRegistry
from mecroute.adapters.verified_models import verified_artifact
from mecroute.adapters.web import CallerGone
from mecroute.domain.errors import ModelIntegrityError
from mecroute.domain.estimates import compute_time_ms, estimate_tokens
from mecroute.domain.registry import Heartbeat, ModelSpec, NodeRecord
from mecroute.domain.synthetic_text import generate
from mecroute.mec.capacity import SlotPool
from mecroute.mec.profiles import SiteProfile
from mecroute.mec.resident import ResidentModel, ResidentModels
from mecroute.mec.zoo import CATALOGUE, resident_memory_mb

# A model the registry does not know still gets a plausible MEC-class compute time.
_FALLBACK_REFERENCE_MS = 50.0
_CATALOGUE_REFERENCE_MS = {entry.model_id: entry.latency_ms for entry in CATALOGUE}
# Prompt plus answer fit in the model's context window; a model that names none gets this.
DEFAULT_CONTEXT_WINDOW_TOKENS = 4096
_CATALOGUE_WINDOW = {entry.model_id: entry.context_window_tokens for entry in CATALOGUE}


class UnknownModel(LookupError):
    """Asked to load a model with no artifact key and sha256, and no registry entry to give them."""


class ArtifactUnavailable(Exception):
    """The artifact store could not hand over the artifact (missing key, store unreachable)."""


class NodeService:
    def __init__(
        self,
        profile: SiteProfile,
        artifacts: ArtifactStore,
        registry: ModelRegistry | None,
        time_scale: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.profile = profile
        self.artifacts = artifacts
        self.registry = registry
        self.time_scale = time_scale
        self.slots = SlotPool(profile.slots, profile.queue_limit)
        self.models = ResidentModels(profile.memory_budget_mb)
        self.draining = False
        self.on_change: Callable[[], None] = lambda: None
        self._rng = rng or random.Random()
        self._loading = threading.Lock()

    # -- requests ---------------------------------------------------------------------------

    def infer(
        self,
        model_id: str,
        prompt: str,
        output_tokens: int,
        emulate_network: bool = True,
        max_tokens: int | None = None,
        gone: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Answer with the simulated model's text, timed for the tokens it wrote. Without
        `max_tokens` (the earlier protocol) `output_tokens` is both the cap and the length the
        compute time is charged for, as it was before. Either is cut to what the model's context
        window leaves after the prompt (finish_reason "length"). When `gone` is set (the caller
        left) the request stops waiting or computing and gives its slot back (CallerGone)."""
        gone = gone or threading.Event()
        model = self.models.use(model_id)
        input_tokens = estimate_tokens(prompt)
        room = max(1, model.context_window_tokens - input_tokens)
        with self.slots.slot(gone) as queued_ms:
            inference = model.engine.run(prompt)
            answer = generate(model_id, prompt, min(room, max_tokens or max(1, output_tokens)))
            charged = answer.output_tokens if max_tokens else min(room, output_tokens)
            compute_ms = compute_time_ms(
                model.reference_latency_ms, input_tokens + charged, self.profile.speed_factor
            )
            _sleep_ms(compute_ms * self.time_scale - inference.compute_ms, gone)
        network_ms = self.profile.emulated_rtt_ms(self._rng) if emulate_network else 0.0
        # The network leg happens after the slot is free: it delays the answer, not the node.
        _sleep_ms(network_ms * self.time_scale, gone)
        return {
            "model_id": model_id,
            "node_id": self.profile.node_id,
            "output": answer.text,
            "input_tokens": input_tokens,
            "output_tokens": answer.output_tokens,
            "finish_reason": answer.finish_reason,
            "compute_ms": round(compute_ms, 3),
            "onnx_ms": round(inference.compute_ms, 4),
            "queued_ms": round(queued_ms, 3),
            "network_ms": round(network_ms, 3),
        }

    # -- models -----------------------------------------------------------------------------

    def load(
        self, model_id: str, artifact_key: str | None = None, sha256: str | None = None
    ) -> dict[str, Any]:
        """Fetch, verify against sha256, then hold; a tampered artifact is never loaded."""
        spec = self._registry_entry(model_id)
        artifact_key = artifact_key or (spec.artifact_key if spec else None)
        sha256 = sha256 or (spec.sha256 if spec else None)
        if not artifact_key or not sha256:
            raise UnknownModel(
                f"{model_id}: give artifact_key and sha256, or register the model first"
            )
        with self._loading:
            current = self.models.get(model_id)
            if current is not None and current.sha256 == sha256:
                self.models.use(model_id)
                return self._loaded(model_id, evicted=[], already_loaded=True)
            if spec is not None and spec.sha256 == sha256:
                self.models.check_fits(model_id, spec.memory_mb)
            try:
                data = verified_artifact(self.artifacts, artifact_key, sha256)
            except ModelIntegrityError:
                raise
            except Exception as error:
                raise ArtifactUnavailable(f"could not fetch {artifact_key}: {error}") from None
            memory_mb = (
                spec.memory_mb
                if spec is not None and spec.sha256 == sha256
                else resident_memory_mb(len(data))
            )
            reference_ms = (
                spec.latency_ms
                if spec is not None
                else _CATALOGUE_REFERENCE_MS.get(model_id, _FALLBACK_REFERENCE_MS)
            )
            window = (spec.context_window_tokens if spec else None) or _CATALOGUE_WINDOW.get(
                model_id
            )
            self.models.check_fits(model_id, memory_mb)
            engine = OnnxModel(model_id, data, TIER_THREADS["mec"])
            evicted = self.models.add(
                ResidentModel(
                    model_id,
                    sha256,
                    memory_mb,
                    reference_ms,
                    engine,
                    window or DEFAULT_CONTEXT_WINDOW_TOKENS,
                )
            )
        self.on_change()
        return self._loaded(model_id, evicted=evicted, already_loaded=False)

    def evict(self, model_id: str) -> bool:
        evicted = self.models.evict(model_id)
        if evicted:
            self.on_change()
        return evicted

    def preload(self, model_ids: tuple[str, ...]) -> dict[str, str]:
        """Load each model; returns the ones that failed with why (the node still starts)."""
        failures = {}
        for model_id in model_ids:
            try:
                self.load(model_id)
            except Exception as error:
                failures[model_id] = f"{type(error).__name__}: {error}"
        return failures

    # -- reporting --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        load = self.slots.load()
        return {
            "status": "draining" if self.draining else "ok",
            "node_id": self.profile.node_id,
            "site": self.profile.site,
            "slots": load.slots,
            "in_flight": load.in_flight,
            "free_slots": load.free_slots,
            "queue_depth": load.queue_depth,
            "queue_limit": load.queue_limit,
            "utilisation": round(load.utilisation, 3),
            "service_ms": None if load.service_ms is None else round(load.service_ms, 3),
            "loaded_models": self.models.ids(),
            "memory_budget_mb": self.models.budget_mb,
            "memory_used_mb": self.models.used_mb(),
            "speed_factor": self.profile.speed_factor,
        }

    def heartbeat(self, now: float, stopped: bool = False) -> Heartbeat:
        load = self.slots.load()
        status = "stopped" if stopped else "draining" if self.draining else "ok"
        return Heartbeat(
            heartbeat_at=now,
            status=status,
            in_flight=load.in_flight,
            queue_depth=load.queue_depth,
            utilisation=round(load.utilisation, 3),
            hot_models=[] if stopped else self.models.ids(),
            memory_used_mb=self.models.used_mb(),
        )

    def record(self, endpoint: str, region: str, now: float) -> NodeRecord:
        """The node's full nodes-table record: static fields from its profile, then load."""
        return self.profile.node_record(endpoint, region, self.heartbeat(now))

    def _loaded(self, model_id: str, evicted: list[str], already_loaded: bool) -> dict[str, Any]:
        return {
            "model_id": model_id,
            "loaded": True,
            "already_loaded": already_loaded,
            "evicted": evicted,
            "memory_used_mb": self.models.used_mb(),
            "memory_budget_mb": self.models.budget_mb,
        }

    def _registry_entry(self, model_id: str) -> ModelSpec | None:
        if self.registry is None:
            return None
        try:
            models = self.registry.list_models()
        except Exception:
            return None  # loading with an explicit key and sha256 still works
        return next((model for model in models if model.model_id == model_id), None)


def _sleep_ms(milliseconds: float, gone: threading.Event) -> None:
    if milliseconds > 0 and gone.wait(milliseconds / 1000):
        raise CallerGone("the caller closed its connection")
