"""The HTTP services' framing over real sockets on 127.0.0.1: the shared guard
(mecroute.adapters.web) in front of the MEC node app and the local API's kind of app.

A request the guard refuses is answered once, as JSON naming what is wrong, and its connection
is closed: bytes the server did not read are never taken for a next request.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mecroute.adapters.files import DirectoryArtifactStore
from mecroute.adapters.web import Served, json_app, json_object
from mecroute.domain.node_auth import NodeVerifier, signed_headers
from mecroute.mec.node_app import node_app
from mecroute.mec.profiles import PROFILES
from mecroute.mec.service import NodeService

pytestmark = pytest.mark.e2e
# A bound on each socket read: a server that hangs fails the test instead of stalling it.
SOCKET_TIMEOUT_S = 10.0
SMALL_LIMIT = 1024
NODE_KEY = bytes(range(32))  # the in-process node's infer key


async def echo(request: Request) -> Response:
    return JSONResponse({"echo": json_object(await request.body())})


async def fail(_: Request) -> Response:
    raise RuntimeError("secret internals")


def echo_app(fast: bool = False) -> Served:
    app = json_app(
        [
            Route("/echo", echo, methods=["POST"]),
            Route("/fail", fail, methods=["GET"]),
        ],
        max_body_bytes=SMALL_LIMIT,
        read_timeout_s=0.3,
    )
    return Served(app, fast=fast).start()


def node(tmp_path: Path) -> Served:
    profile = dataclasses.replace(PROFILES["metro-5g"], preload=())
    service = NodeService(profile, DirectoryArtifactStore(tmp_path), None, time_scale=0)
    verifier = NodeVerifier(profile.node_id, {"infer": NODE_KEY})
    return Served(node_app(service, verifier), fast=True).start()  # as `mecroute node` serves it


def signature(path: str, body: bytes) -> str:
    """The node's signature headers for a raw POST (the framing is what these tests vary)."""
    site = PROFILES["metro-5g"].node_id
    headers = signed_headers(NODE_KEY, site, "infer", "POST", path, body, time.time())
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items())


# "httptools": the shared guard on the HTTP stack of the edge gateway and the MEC node
# (httptools on uvloop); "mec-node" is on that stack too.
@pytest.fixture(params=["shared-guard", "httptools", "mec-node"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Served]]:
    if request.param == "mec-node":
        served, post_path = node(tmp_path), "/infer"
    else:
        served, post_path = echo_app(fast=request.param == "httptools"), "/echo"
    try:
        yield post_path, served
    finally:
        served.stop()


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, object]


def exchange(served: Served, data: bytes) -> tuple[list[Answer], bool]:
    """Send raw bytes; read until the server closes or goes quiet. Returns every response
    found in what came back and whether the server closed the connection."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=SOCKET_TIMEOUT_S) as conn:
        conn.sendall(data)
        received, closed = b"", False
        try:
            while chunk := conn.recv(65536):
                received += chunk
                if _complete(received):
                    conn.settimeout(0.5)  # anything more would be a second response
            closed = True
        except TimeoutError:
            closed = False
    return _parse(received), closed


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _parse(data: bytes) -> list[Answer]:
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        body, data = rest[:length], rest[length:]
        answers.append(Answer(int(lines[0].split()[1]), headers, json.loads(body or b"{}")))
    return answers


NEXT_REQUEST = b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"


def test_a_post_without_content_length_is_411_and_its_body_is_never_a_second_request(server):
    post_path, served = server
    smuggled = b"DELETE /models/edge-small-v1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"

    answers, closed = exchange(
        served, f"POST {post_path} HTTP/1.1\r\nHost: t\r\n\r\n".encode() + smuggled
    )

    assert [a.status for a in answers] == [411]
    assert answers[0].body["error"] == "LengthRequired"
    assert answers[0].body["request_id"]
    assert answers[0].headers["content-type"] == "application/json"
    assert closed


@pytest.mark.parametrize("length", [b"abc", b"-1", b"1_0", b"+5"])
def test_a_malformed_content_length_gets_a_json_400_and_the_connection_closes(server, length):
    post_path, served = server
    request = f"POST {post_path} HTTP/1.1\r\nHost: t\r\nContent-Length: ".encode()

    answers, closed = exchange(served, request + length + b"\r\n\r\n{}" + NEXT_REQUEST)

    assert [a.status for a in answers] == [400]
    assert answers[0].body["error"] == "InvalidRequest"
    assert "Content-Length" in str(answers[0].body["message"])
    assert closed


@pytest.mark.parametrize("method", ["PROPFIND", "PUT", "BREW"])
def test_an_unknown_method_gets_a_json_405_with_allow(server, method, request):
    _, served = server
    if method == "BREW" and request.node.callspec.params["server"] != "shared-guard":
        pytest.skip("llhttp refuses a method outside HTTP's registry: the next test")

    answers, _ = exchange(
        served, f"{method} /health HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n".encode()
    )

    assert [a.status for a in answers] == [405]
    assert answers[0].body["error"] == "MethodNotAllowed"
    assert "GET" in answers[0].headers["allow"]


def test_on_the_fast_stack_a_method_the_parser_does_not_know_is_a_json_400_and_closes():
    served = echo_app(fast=True)
    try:
        answers, closed = exchange(served, b"BREW /health HTTP/1.1\r\nHost: t\r\n\r\n")
    finally:
        served.stop()

    assert [a.status for a in answers] == [400]
    assert answers[0].body["error"] == "InvalidRequest"
    assert "method" in str(answers[0].body["message"])
    assert closed


def test_a_known_method_on_the_wrong_route_is_a_json_405(server):
    post_path, served = server

    answers, _ = exchange(served, f"GET {post_path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())

    assert [a.status for a in answers] == [405]
    assert answers[0].body["error"] == "MethodNotAllowed"


def test_a_chunked_body_is_411_and_closes(server):
    post_path, served = server
    request = f"POST {post_path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"

    answers, closed = exchange(served, request.encode() + b"2\r\n{}\r\n0\r\n\r\n" + NEXT_REQUEST)

    assert [a.status for a in answers] == [411]
    assert closed


def test_a_body_over_the_limit_is_413_before_it_is_read(server):
    post_path, served = server
    request = f"POST {post_path} HTTP/1.1\r\nHost: t\r\nContent-Length: 50000000\r\n\r\n"

    answers, closed = exchange(served, request.encode() + b"{")

    assert [a.status for a in answers] == [413]
    assert answers[0].body["error"] == "PayloadTooLarge"
    assert closed


def test_a_body_that_is_not_json_is_a_400_naming_the_body(server):
    post_path, served = server
    signed = signature(post_path, b"{not json")
    request = f"POST {post_path} HTTP/1.1\r\nHost: t\r\n{signed}Content-Length: 9\r\n\r\n{{not json"

    answers, _ = exchange(served, request.encode())

    assert answers[0].status == 400
    assert answers[0].body["problems"] == [{"field": "(body)", "problem": "not valid JSON"}]


def test_kept_alive_requests_are_answered_in_order(server):
    _, served = server

    answers, closed = exchange(served, NEXT_REQUEST + b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")

    assert [a.status for a in answers][-1] == 404
    assert len(answers) == 2
    assert answers[1].body["error"] == "NotFound"
    assert answers[0].headers["x-request-id"] != answers[1].headers["x-request-id"]
    assert not closed


def test_a_body_that_stops_arriving_gets_a_json_408():
    served = echo_app()
    try:
        request = b'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n{"a"'

        answers, closed = exchange(served, request)

        assert [a.status for a in answers] == [408]
        assert answers[0].body["error"] == "RequestTimeout"
        assert closed
    finally:
        served.stop()


def test_a_route_that_fails_answers_json_500_without_its_internals():
    served = echo_app()
    try:
        answers, _ = exchange(served, b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")

        assert [a.status for a in answers] == [500]
        assert answers[0].body["error"] == "InternalError"
        assert "secret" not in json.dumps(answers[0].body)
    finally:
        served.stop()


def test_the_node_names_the_field_it_refuses(tmp_path: Path):
    served = node(tmp_path)
    try:
        body = json.dumps({"model_id": "edge-small-v1", "prompt": 5, "colour": "red"}).encode()
        signed = signature("/infer", body)
        request = f"POST /infer HTTP/1.1\r\nHost: t\r\n{signed}Content-Length: {len(body)}\r\n\r\n"

        answers, _ = exchange(served, request.encode() + body)

        assert answers[0].status == 400
        fields = {p["field"] for p in answers[0].body["problems"]}  # type: ignore[union-attr]
        assert fields == {"prompt", "colour"}
    finally:
        served.stop()
