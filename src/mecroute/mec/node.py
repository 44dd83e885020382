"""A MEC node: serves zoo models over HTTP with a fixed number of slots and a bounded queue.

The same program runs as a local process offline and in the Fargate image in AWS.
Artifacts come from S3 and are verified against their sha256 before they are loaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mecroute.mec.engine import OnnxModel, emulated_compute_ms
from mecroute.mec.zoo import CATALOGUE

_REFERENCE_MS = {entry.model_id: entry.latency_ms for entry in CATALOGUE}
_MODEL_PATH = re.compile(r"^/models/([A-Za-z0-9][A-Za-z0-9._-]{0,63})(/load)?$")


class Saturated(Exception):
    """Every slot is busy and the queue is full."""


class NodeState:
    def __init__(self, slots: int, queue_limit: int, speed_factor: float, time_scale: float):
        self.slots = slots
        self.queue_limit = queue_limit
        self.speed_factor = speed_factor
        self.time_scale = time_scale
        self.models: dict[str, OnnxModel] = {}
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.waiting = 0

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {
                "status": "ok",
                "slots": self.slots,
                "in_flight": self.in_flight,
                "queue_depth": self.waiting,
                "queue_limit": self.queue_limit,
                "utilisation": round(self.in_flight / self.slots, 3),
                "free_slots": self.slots - self.in_flight,
                "loaded_models": sorted(self.models),
            }

    def infer(self, model_id: str, prompt: str, output_tokens: int) -> dict[str, Any]:
        model = self.models.get(model_id)
        if model is None:
            raise KeyError(model_id)
        with self._lock:
            if self.in_flight >= self.slots and self.waiting >= self.queue_limit:
                raise Saturated
            self.waiting += 1
        started = time.perf_counter()
        self._slots.acquire()
        with self._lock:
            self.waiting -= 1
            self.in_flight += 1
        try:
            queued_ms = (time.perf_counter() - started) * 1000
            inference = model.run(prompt)
            tokens = len(prompt) // 4 + output_tokens
            emulated_ms = emulated_compute_ms(
                _REFERENCE_MS.get(model_id, 50.0), tokens, self.speed_factor
            )
            # Hold the slot for the model's emulated compute time so queueing is real.
            time.sleep(max(0.0, emulated_ms * self.time_scale - inference.compute_ms) / 1000)
            return {
                "model_id": model_id,
                "output": inference.output,
                "compute_ms": round(emulated_ms, 3),
                "queued_ms": round(queued_ms, 3),
            }
        finally:
            with self._lock:
                self.in_flight -= 1
            self._slots.release()


def fetch_artifact(artifact_key: str, sha256: str, bucket: str) -> bytes:
    import boto3  # only when loading: keeps node start-up fast

    data: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=artifact_key)["Body"].read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ValueError(f"artifact {artifact_key} has sha256 {actual}, expected {sha256}")
    return data


def make_handler(state: NodeState, bucket: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            pass

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            return body

        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, state.health())
            else:
                self._reply(404, {"error": "NotFound", "message": self.path})

        def do_POST(self) -> None:
            try:
                body = self._body()
            except (ValueError, json.JSONDecodeError) as error:
                self._reply(400, {"error": "InvalidRequest", "message": str(error)})
                return
            if self.path == "/infer":
                self._infer(body)
                return
            match = _MODEL_PATH.match(self.path)
            if match and match.group(2):
                self._load(match.group(1), body)
            else:
                self._reply(404, {"error": "NotFound", "message": self.path})

        def do_DELETE(self) -> None:
            match = _MODEL_PATH.match(self.path)
            if not match or match.group(2):
                self._reply(404, {"error": "NotFound", "message": self.path})
                return
            removed = state.models.pop(match.group(1), None)
            self._reply(200 if removed else 404, {"model_id": match.group(1), "evicted": bool(removed)})

        def _infer(self, body: dict[str, Any]) -> None:
            prompt, model_id = body.get("prompt"), body.get("model_id")
            if not isinstance(prompt, str) or not isinstance(model_id, str):
                self._reply(400, {"error": "InvalidRequest", "message": "model_id and prompt required"})
                return
            try:
                self._reply(200, state.infer(model_id, prompt, int(body.get("output_tokens", 64))))
            except KeyError:
                self._reply(404, {"error": "ModelNotLoaded", "message": model_id})
            except Saturated:
                self._reply(429, {"error": "Saturated", "message": "queue full"}, {"Retry-After": "1"})

        def _load(self, model_id: str, body: dict[str, Any]) -> None:
            try:
                data = fetch_artifact(str(body["artifact_key"]), str(body["sha256"]), bucket)
                state.models[model_id] = OnnxModel(model_id, data)
            except KeyError as error:
                self._reply(400, {"error": "InvalidRequest", "message": f"missing {error}"})
            except ValueError as error:
                self._reply(422, {"error": "ModelIntegrityError", "message": str(error)})
            except Exception as error:
                self._reply(502, {"error": "LoadFailed", "message": str(error)})
            else:
                self._reply(200, {"model_id": model_id, "loaded": True})

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mecroute-node", description=__doc__)
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--queue-limit", type=int, default=16)
    parser.add_argument("--speed-factor", type=float, default=1.0)
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="Multiply emulated compute sleeps (tests use less than 1).")
    parser.add_argument("--bucket", required=True, help="S3 bucket holding model artifacts.")
    args = parser.parse_args(argv)
    state = NodeState(args.slots, args.queue_limit, args.speed_factor, args.time_scale)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state, args.bucket))
    server.daemon_threads = False
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"listening": f"http://{args.host}:{args.port}"}), flush=True)
    stop.wait()
    server.shutdown()  # stop accepting, then wait for in-flight requests
    server.server_close()


if __name__ == "__main__":
    main()
