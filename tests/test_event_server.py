"""Event streams on the real server: gunicorn's gevent worker, as `make run` starts it.

Each test starts `gunicorn wsgi:app` with its own settings on the session's databases and
talks to it over sockets only; what the server commits is real (tables truncated after).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mylivelinks.dev import raise_open_files_limit
from tests.event_server import EventServer, EventStream, started, wait_for

pytestmark = pytest.mark.real_session

OPEN_FILES = 8192

ServerFactory = Callable[..., EventServer]


@pytest.fixture(scope="module", autouse=True)
def _open_files() -> None:
    """Room for thousands of sockets here and in the servers, which inherit the limit."""
    assert raise_open_files_limit(OPEN_FILES) >= OPEN_FILES


@pytest.fixture
def serve(server_urls, app, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start a server with the given settings (on the migrated database); all stopped after."""
    servers: list[EventServer] = []

    def start(**settings) -> EventServer:
        log_path = tmp_path / f"gunicorn-{len(servers)}.log"
        server = EventServer(server_urls, log_path, **settings)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


def _open(server: EventServer, count: int, token: str, **options) -> list[EventStream]:
    streams = [server.open_stream("main", token, **options) for _ in range(count)]
    late = wait_for(streams, started, timeout=15)
    assert not late, f"{len(late)} streams got no first block; log:\n{server.log()}"
    return streams


def _admitted_after(server: EventServer, token: str, timeout: float) -> EventStream:
    """A stream admitted within `timeout` s, asking again (as Retry-After says) meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        stream = server.open_stream("main", token)
        assert not wait_for([stream], started, timeout=5)
        if stream.status == 200:
            return stream
        stream.close()
        assert stream.status == 503
        assert time.monotonic() < deadline, "no stream admitted again"
        time.sleep(0.2)


def test_past_the_listener_limit_a_stream_gets_503_until_one_closes(serve, main_room):
    server = serve(SSE_MAX_LISTENERS=3, SSE_KEEPALIVE_SECONDS=0.3)
    viewer = server.register()
    token = viewer["access_token"]
    streams = _open(server, 3, token)
    assert [stream.status for stream in streams] == [200, 200, 200]

    refused = server.open_stream("main", token)
    assert not wait_for([refused], started, timeout=5)
    assert refused.status == 503
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"].startswith("application/json")
    envelope = refused.json()
    assert envelope["code"] == 503
    assert envelope["status"] == "Service Unavailable"
    assert envelope["message"]
    refused.close()
    assert server.request("GET", "/healthz").status == 200  # other requests still served

    streams.pop().close()  # found gone at its next keep-alive
    again = _admitted_after(server, token, timeout=5)
    assert again.blocks[0].fields["retry"]
    for stream in [*streams, again]:
        stream.close()
