"""Errors gunicorn answers itself, before the app, are the JSON envelope too (real server)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from mylivelinks.gunicorn_worker import envelope_of_error_page
from tests.event_server import HOST, EventServer

pytestmark = pytest.mark.real_session


@pytest.fixture(scope="module")
def server(server_urls, app, tmp_path_factory) -> Iterator[EventServer]:
    """gunicorn with the API's worker class, as `make run` starts it; one for the module,
    since each test only sends it a request it refuses before the app."""
    log_path = tmp_path_factory.mktemp("server-errors") / "gunicorn.log"
    running = EventServer(server_urls, log_path, MAX_CONTENT_LENGTH="1000")
    running.start()
    yield running
    running.stop()


def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def _assert_envelope(port: int, raw: bytes, code: int) -> dict:
    status, headers, body = _exchange(port, raw)
    assert status == code, body
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["code"] == code and payload["status"] and payload["message"]
    return payload


def test_a_request_line_too_long_is_414_in_the_envelope(server):
    raw = f"GET /api/v1/rooms/{'x' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    _assert_envelope(server.port, raw, 414)


def test_headers_too_large_or_malformed_are_4xx_in_the_envelope(server):
    big = f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {'y' * 9000}\r\n\r\n".encode()
    assert "size" in _assert_envelope(server.port, big, 431)["message"]
    many = "".join(f"X-H{i}: v\r\n" for i in range(120))
    _assert_envelope(server.port, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n".encode(), 431)
    _assert_envelope(server.port, b"NOT A REQUEST\r\n\r\n", 400)


def test_a_body_past_the_limit_is_413_through_the_server(server):
    body = json.dumps({"login": "x" * 2000, "password": "whatever"}).encode()
    raw = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    _assert_envelope(server.port, raw, 413)


def test_a_response_that_is_not_an_error_page_is_left_alone():
    assert envelope_of_error_page(b"garbage") == b"garbage"
