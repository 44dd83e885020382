"""What every mecroute HTTP service shares (MEC node, local API, edge gateway): Starlette under
uvicorn with JSON errors naming the field, a body limit, strict lengths, a read timeout and ids.

A request is checked before any route sees it: a body-carrying method without a usable
Content-Length, a chunked body, a body over the limit or one that stops arriving gets a JSON 4xx
and the connection is closed, so unread bytes are never taken for a next request. Bytes the
HTTP parser itself refuses (`Content-Length: abc`, `-1`) get a JSON 400 too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import h11
import httptools
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A client that stops sending halfway through a body cannot hold a request (or a drain) forever.
READ_TIMEOUT_S = 30.0
# A kept-alive connection with no next request is closed after this long (at once on drain).
IDLE_TIMEOUT_S = 15
# Blocking routes (onnxruntime, emulated compute, moto) run on worker threads: enough for a
# node's slots plus its queue, or a benchmark's concurrency, without anyio's default of 40.
WORKER_THREADS = 256
# The threads `while_connected` runs work on (made as needed, kept for the next request).
_BLOCKING_WORK = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="blocking-work")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
REQUEST_ID_HEADER = "x-request-id"
log = logging.getLogger(__name__)
_T = TypeVar("_T")


class HttpProblem(Exception):
    """A refusal a route raises; answered as JSON `{"error", "message", "request_id", ...}`."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        problems: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.problems = list(problems)
        self.headers = dict(headers or {})
        self.close = close


def body_problem(problem: str) -> dict[str, str]:
    return {"field": "(body)", "problem": problem}


def invalid_body(message: str, problem: str) -> HttpProblem:
    return HttpProblem(400, "InvalidRequest", message, problems=[body_problem(problem)])


def problem_body(problem: HttpProblem, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"error": problem.error, "message": problem.message}
    if problem.problems:
        body["problems"] = problem.problems
    body["request_id"] = request_id
    return body


def problem_response(problem: HttpProblem, request_id: str) -> JSONResponse:
    headers = dict(problem.headers)
    if problem.close:
        headers["Connection"] = "close"
    return JSONResponse(problem_body(problem, request_id), problem.status, headers)


def request_id_of(request: Request) -> str:
    """The id the guard gave this request (also sent back in the `x-request-id` header)."""
    return str(request.scope["state"]["request_id"])


class CallerGone(Exception):
    """The client closed its connection before its answer was ready: the work was stopped."""


async def while_connected(
    request: Request, work: Callable[[threading.Event], _T], wake: Callable[[], None]
) -> _T | None:
    """Run blocking `work` on a worker thread; if the client disconnects first, set the event
    `work` watches and call `wake` (to rouse anything it waits on). None when the caller left.
    Plain asyncio, not anyio's task group and thread limiter: a third of a MEC node's time per
    request went there."""
    gone = threading.Event()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone.set()
        wake()

    loop = asyncio.get_running_loop()
    watcher = loop.create_task(watch())
    try:
        return await loop.run_in_executor(_BLOCKING_WORK, work, gone)
    except CallerGone:
        return None
    finally:
        watcher.cancel()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_value(raw: bytes) -> Any:
    """Strict JSON (no NaN/Infinity, bounded nesting), or the 400 that names the body."""
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise invalid_body("body is nested too deeply", "nested too deep") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, NaN, huge integers
        raise invalid_body(f"body is not JSON: {error}", "not valid JSON") from None


def json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object body (empty means `{}`), or the 400 that names the body."""
    value = json_value(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise invalid_body("body must be a JSON object", "not a JSON object")
    return value


def declared_length(value: str) -> int | None:
    """A Content-Length is ASCII digits only (int() would also take "+1", " 1" or "1_000")."""
    stripped = value.strip()
    return int(stripped) if stripped.isascii() and stripped.isdigit() else None


class RequestGuard:
    """ASGI middleware: request id, method check, length and size checks, a timed body read.

    The route then finds the whole body already read (`await request.body()` returns at once).
    """

    def __init__(
        self, app: ASGIApp, *, methods: frozenset[str], max_body_bytes: int, read_timeout_s: float
    ) -> None:
        self.app = app
        self.methods = methods | {"HEAD"} if "GET" in methods else methods
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = rid
        send = _with_header(send, REQUEST_ID_HEADER, rid)
        try:
            body = await self._read(scope, receive)
            if body is None:
                return  # the client went away
            if scope["method"] not in self.methods:
                raise HttpProblem(
                    405,
                    "MethodNotAllowed",
                    f"{scope['method']} is not served here",
                    headers={"Allow": ", ".join(sorted(self.methods))},
                )
        except HttpProblem as problem:
            await problem_response(problem, rid)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise HttpProblem(
                411, "LengthRequired", "send Content-Length, not a chunked body", close=True
            )
        declared = headers.get("content-length")
        if declared is None:
            if scope["method"] in BODY_METHODS:
                # Without a length the bytes after the headers would be read as a next request.
                raise HttpProblem(
                    411, "LengthRequired", f"{scope['method']} needs a Content-Length", close=True
                )
            return b""
        length = declared_length(declared)
        if length is None:  # uvicorn's parser refuses these first; kept for other servers
            raise HttpProblem(
                400, "InvalidRequest", f"Content-Length {declared!r} is not a length", close=True
            )
        if length > self.max_body_bytes:
            raise HttpProblem(
                413, "PayloadTooLarge", f"body over {self.max_body_bytes} bytes", close=True
            )
        chunks: list[bytes] = []
        with anyio.move_on_after(self.read_timeout_s) as scope_timer:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        if scope_timer.cancelled_caught:
            raise HttpProblem(
                408,
                "RequestTimeout",
                f"the body did not arrive within {self.read_timeout_s:g} s",
                close=True,
            )
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _with_header(send: Send, name: str, value: str) -> Send:
    encoded = (name.encode("latin-1"), value.encode("latin-1"))

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), encoded]
        await send(message)

    return sending


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's router raises these for an unknown path (404) or method on a path (405)."""
    assert isinstance(exc, HTTPException)
    names = {404: "NotFound", 405: "MethodNotAllowed"}
    problem = HttpProblem(
        exc.status_code,
        names.get(exc.status_code, "HttpError"),
        f"no route {request.method} {request.url.path}"
        if exc.status_code in names
        else str(exc.detail),
        headers=exc.headers,
    )
    return problem_response(problem, request_id_of(request))


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpProblem)
    return problem_response(exc, request_id_of(request))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    problem = HttpProblem(500, "InternalError", "the service failed; see its log", close=True)
    return problem_response(problem, request.scope.get("state", {}).get("request_id", ""))


@asynccontextmanager
async def _worker_threads(_: Starlette) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
    yield


def json_app(
    routes: Sequence[BaseRoute],
    *,
    max_body_bytes: int,
    read_timeout_s: float = READ_TIMEOUT_S,
    exception_handlers: Mapping[type[Exception], Callable[[Request, Exception], Any]] | None = None,
) -> Starlette:
    """A Starlette app whose every answer, error or not, is JSON with a request id."""
    from starlette.middleware import Middleware

    methods = frozenset(m for route in routes for m in (getattr(route, "methods", None) or ()))
    handlers: dict[Any, Callable[[Request, Exception], Any]] = {
        HTTPException: _http_exception,
        HttpProblem: _problem,
        Exception: _unexpected,
        **(exception_handlers or {}),
    }
    return Starlette(
        routes=list(routes),
        middleware=[
            Middleware(
                RequestGuard,
                methods=methods,
                max_body_bytes=max_body_bytes,
                read_timeout_s=read_timeout_s,
            )
        ],
        exception_handlers=handlers,
        lifespan=_worker_threads,
    )


def malformed(detail: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The JSON 400 (headers, body) for bytes an HTTP parser refused; the connection closes."""
    problem = HttpProblem(400, "InvalidRequest", f"malformed HTTP request: {detail}")
    data = json.dumps(problem_body(problem, str(uuid.uuid4()))).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"connection", b"close"),
    ]
    return headers, data


class JsonH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering requests its parser refuses with JSON, not text."""

    def send_400_response(self, msg: str) -> None:
        reason = sys.exc_info()[1]  # called from uvicorn's `except h11.RemoteProtocolError`
        detail = str(reason) if isinstance(reason, h11.RemoteProtocolError) else msg
        headers, data = malformed(detail)
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=data),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


class JsonHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C), answering what its parser refuses with
    JSON, not text."""

    def send_400_response(self, msg: str) -> None:
        reason = sys.exc_info()[1]  # called from uvicorn's `except httptools.HttpParserError`
        detail = str(reason) if isinstance(reason, httptools.HttpParserError) else msg
        headers, data = malformed(detail)
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(b"HTTP/1.1 400 Bad Request\r\n" + head + b"\r\n" + data)
        self.transport.close()


class Served:
    """A uvicorn server on its own thread and event loop; `stop()` drains: it stops accepting,
    answers every request already accepted, closes idle connections, then returns."""

    def __init__(
        self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, fast: bool = False
    ) -> None:
        """`fast`: parse HTTP with httptools and run the loop on uvloop (both in C), for a
        service whose own time is milliseconds (the edge gateway); h11 on asyncio otherwise."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
        # without it the headers and body, written apart, wait out the client's delayed ACK
        # (~40 ms a request).
        self.socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port = host, int(self.socket.getsockname()[1])
        config = uvicorn.Config(
            app,
            http=JsonHttpToolsProtocol if fast else JsonH11Protocol,
            loop="uvloop" if fast else "asyncio",
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=IDLE_TIMEOUT_S,
            backlog=1024,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True,
            name=f"http-{self.port}",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> Served:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.socket.close()
