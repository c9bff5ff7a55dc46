"""gunicorn's gevent worker with its own error answers in the API's JSON envelope.

gunicorn refuses some requests before the app sees them (a request line past
`limit_request_line` is 414, headers past their limits 431 or 400, a malformed request
400) and answers them with an HTML page of its own. This worker rewrites that page, as it
is written to the socket, into `{code, status, message}`; everything else is gunicorn's.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from gunicorn.workers.ggevent import GeventWorker

_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)\r\n")
_MESSAGE = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.DOTALL)


def envelope_of_error_page(page: bytes) -> bytes:
    """The HTTP response `page` (gunicorn's HTML error) with the error envelope as its body."""
    status = _STATUS_LINE.match(page)
    if status is None:
        return page
    code, reason = int(status[1]), status[2].decode("latin-1")
    found = _MESSAGE.search(page)
    message = html.unescape(found[1].decode("latin-1")) if found else ""
    body = json.dumps({"code": code, "status": reason, "message": message or reason}).encode()
    head = (
        f"HTTP/1.1 {code} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _EnvelopeSocket:
    """The client socket, except that what gunicorn writes to it is rewritten."""

    def __init__(self, sock: Any):
        self._sock = sock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        self._sock.sendall(envelope_of_error_page(data))


class EnvelopeGeventWorker(GeventWorker):
    """gunicorn's gevent worker whose own error answers are the JSON error envelope."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """Answer as gunicorn does, in the envelope."""
        super().handle_error(req, _EnvelopeSocket(client), addr, exc)
