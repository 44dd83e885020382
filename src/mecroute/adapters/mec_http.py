"""HTTP client for the MEC nodes' API (the same API offline and on ECS Fargate)."""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from mecroute.adapters.ports import NodeAnswer, NodeHealth
from mecroute.domain.errors import ModelIntegrityError, TierUnavailable


class HttpMecNodes:
    def __init__(self, health_timeout_s: float = 0.5) -> None:
        self.health_timeout_s = health_timeout_s

    def health(self, endpoint: str) -> NodeHealth:
        body = self._call("GET", f"{endpoint}/health", None, self.health_timeout_s)
        with _malformed_answer(endpoint, "health"):
            return NodeHealth(
                in_flight=int(body["in_flight"]),
                queue_depth=int(body["queue_depth"]),
                slots=int(body["slots"]),
                hot_models=list(body["loaded_models"]),
                status=str(body.get("status", "ok")),
            )

    def infer(
        self,
        endpoint: str,
        model_id: str,
        prompt: str,
        output_tokens: int,
        timeout_s: float,
        max_tokens: int,
    ) -> NodeAnswer:
        # The router already models the network from the request's telemetry and the site's
        # distance; the node emulating it too would count the same round trip twice.
        payload = {
            "model_id": model_id,
            "prompt": prompt,
            "output_tokens": output_tokens,
            "max_tokens": max_tokens,
            "emulate_network": False,
        }
        body = self._call("POST", f"{endpoint}/infer", payload, timeout_s)
        with _malformed_answer(endpoint, "infer"):
            return NodeAnswer(
                output=str(body["output"]),
                compute_ms=float(body["compute_ms"]),
                queued_ms=float(body["queued_ms"]),
                input_tokens=int(body["input_tokens"]),
                output_tokens=int(body["output_tokens"]),
                finish_reason="length" if body.get("finish_reason") == "length" else "stop",
            )

    def load(self, endpoint: str, model_id: str, artifact_key: str, sha256: str) -> None:
        self._call(
            "POST",
            f"{endpoint}/models/{model_id}/load",
            {"artifact_key": artifact_key, "sha256": sha256},
            timeout_s=30,
        )

    def evict(self, endpoint: str, model_id: str) -> None:
        try:
            self._call("DELETE", f"{endpoint}/models/{model_id}", None, timeout_s=5)
        except TierUnavailable as error:
            if " answered 404" not in str(error):  # already gone is what we wanted
                raise

    @staticmethod
    def _call(method: str, url: str, payload: Any, timeout_s: float) -> dict[str, Any]:
        if not url.startswith(("http://", "https://")):
            raise TierUnavailable(f"node endpoint {url!r} is not an HTTP URL")
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310  # nosec B310
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            try:
                detail = error.read().decode(errors="replace")[:300]
            except (OSError, http.client.HTTPException):
                detail = "(the body was cut off)"
            retry_after = error.headers.get("Retry-After")
            if retry_after:
                detail += f" (Retry-After {retry_after}s)"
            message = f"{method} {url} answered {error.code}: {detail}"
            if error.code == 422 and "ModelIntegrityError" in detail:
                raise ModelIntegrityError(message) from None
            raise TierUnavailable(message) from None
        # A node killed mid-answer surfaces as a reset, a cut-off body (IncompleteRead) or a
        # timeout; a node answering garbage as a JSON error: all are the node failing.
        except (OSError, http.client.HTTPException) as error:
            raise TierUnavailable(f"{method} {url} failed: {error!r}") from None
        except ValueError as error:
            raise TierUnavailable(f"{method} {url} answered something not JSON: {error}") from None
        if not isinstance(body, dict):
            raise TierUnavailable(f"{method} {url} answered JSON that is not an object")
        return body


@contextlib.contextmanager
def _malformed_answer(endpoint: str, route: str) -> Iterator[None]:
    """A 200 answer without the fields the node API promises is the node failing too."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as error:
        raise TierUnavailable(f"{endpoint} {route} answer is malformed: {error!r}") from None
