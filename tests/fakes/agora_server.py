"""A fake of Agora's banning ("kicking rule") RESTful API on 127.0.0.1, and the Agora harness.

The harness reads tokens with its own parser of the "006" AccessToken format and recomputes
uids from identities itself, so tests never ask our adapter what it did.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RULES_PATH = "/dev/v1/kicking-rule"
PRIVILEGES = {"join_channel", "publish_audio", "publish_video"}
PUBLISH = {"publish_audio", "publish_video"}
# "006" token privileges (AccessToken.py): join, publish audio/video/data.
JOIN_CHANNEL, PUBLISH_AUDIO, PUBLISH_VIDEO = 1, 2, 3
EVENT_TYPES = {
    "room_finished": 102,
    "participant_joined": 103,
    "participant_left": 104,
    "track_published": 111,
    "track_unpublished": 112,
}


def uid_of(identity: str) -> int:
    """The uid an identity joins Agora with: first 4 bytes of SHA-256 (big-endian), never 0."""
    return int.from_bytes(hashlib.sha256(identity.encode()).digest()[:4], "big") or 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAgora


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_DELETE = do_PUT = do_GET

    def log_message(self, *args: Any) -> None:
        pass


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class FakeAgora:
    """Agora's kicking-rule API (POST/GET/DELETE) with Basic auth, on 127.0.0.1."""

    def __init__(self, customer_id: str, customer_secret: str, app_id: str):
        self.customer_id, self.customer_secret, self.app_id = customer_id, customer_secret, app_id
        self.calls: list[dict[str, Any]] = []
        self.rules: dict[int, dict[str, Any]] = {}
        self._next_id = 1000
        self._failures: list[int] = []
        self._delay = 0.0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeAgora:
        """Serve on an ephemeral 127.0.0.1 port in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeAgora is already started")
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-agora", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeAgora:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, for AGORA_API_URL."""
        if self._server is None:
            raise RuntimeError("FakeAgora is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests with `status` (before auth, nothing done)."""
        with self._lock:
            self._failures = [status] * count

    def answer_slowly(self, seconds: float) -> None:
        """Do each request's work, then wait `seconds` before answering (0: answer at once)."""
        self._delay = seconds

    def reset(self) -> None:
        """Forget calls, rules, pending failures and slowness."""
        with self._lock:
            self.calls.clear()
            self.rules.clear()
            self._failures.clear()
            self._delay = 0.0

    # --- request handling -------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        call: dict[str, Any] = {
            "method": handler.command,
            "path": split.path,
            "query": {k: v[-1] for k, v in parse_qs(split.query).items()},
            "body": None,
            "headers": dict(handler.headers.items()),
        }
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        try:
            if failure is not None:
                raise _Refused(failure, "Service Unavailable (simulated)")
            self._authenticate(handler.headers.get("Authorization"))
            if raw:
                try:
                    call["body"] = json.loads(raw)
                except ValueError:
                    raise _Refused(400, "invalid JSON body") from None
            status, answer = self._dispatch(call)
        except _Refused as refused:
            status, answer = refused.status, {"message": refused.message}
        call.update(status=status, answer=answer)
        with self._lock:
            self.calls.append(call)
        if self._delay:
            time.sleep(self._delay)
        data = json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:  # the client gave up waiting
            pass

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, encoded = (authorization or "").strip().partition(" ")
        try:
            user, _, password = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", ""
        if not (
            scheme.lower() == "basic"
            and hmac.compare_digest(user.encode(), self.customer_id.encode())
            and hmac.compare_digest(password.encode(), self.customer_secret.encode())
        ):
            raise _Refused(401, "Invalid authentication credentials")

    def _dispatch(self, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if call["path"] != RULES_PATH:
            raise _Refused(404, "no Route matched with those values")
        method, body = call["method"], call["body"]
        if method == "GET":
            self._check_appid(call["query"].get("appid"))
            now = time.time()
            with self._lock:
                rules = [dict(r) for r in self.rules.values() if r["expires"] > now]
            for rule in rules:
                rule["ts"] = _utc(rule.pop("expires"))
            return 200, {"status": "success", "rules": rules}
        if not isinstance(body, dict):
            raise _Refused(400, "request body must be a JSON object")
        self._check_appid(body.get("appid"))
        if method == "POST":
            rule = self._create(body)
            call["rule"] = rule
            return 200, {"status": "success", "id": rule["id"]}
        if method == "DELETE":
            rule_id = body.get("id")
            if type(rule_id) is not int:
                raise _Refused(400, "id must be a number")
            with self._lock:
                rule = self.rules.pop(rule_id, None)
            if rule is None:
                raise _Refused(404, f"rule {rule_id} not found")
            call["rule"] = rule
            return 200, {"status": "success", "id": rule_id}
        raise _Refused(405, f"method {method} is not supported by this fake")

    def _check_appid(self, appid: Any) -> None:
        if not isinstance(appid, str) or not appid:
            raise _Refused(400, "appid is required")
        if appid != self.app_id:
            raise _Refused(403, "appid does not belong to this customer")

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        cname, uid, ip = body.get("cname"), body.get("uid"), body.get("ip")
        if cname is not None and (not isinstance(cname, str) or not cname):
            raise _Refused(400, "cname must be a non-empty string")
        if uid is not None and (type(uid) is not int or not 0 < uid < 2**32):
            raise _Refused(400, "uid must be a number in [1, 2^32-1]")
        if ip is not None and (not isinstance(ip, str) or ip in ("", "0")):
            raise _Refused(400, "ip must be an IP address")
        if cname is None and uid is None and ip is None:
            raise _Refused(400, "one of cname, uid or ip is required")
        if "time" in body and "time_in_seconds" in body:
            raise _Refused(400, "use either time or time_in_seconds")
        seconds = 3600
        for field, unit, low, high in (("time", 60, 1, 1440), ("time_in_seconds", 1, 10, 86430)):
            value = body.get(field)
            if field in body and (type(value) not in (int, float) or value < 0):
                raise _Refused(400, f"{field} must be a non-negative number")
            if field in body:
                seconds = 0 if value == 0 else int(min(max(value, low), high) * unit)
        privileges = body.get("privileges")
        if (
            not isinstance(privileges, list)
            or not privileges
            or not all(isinstance(p, str) and p in PRIVILEGES for p in privileges)
        ):
            raise _Refused(400, f"privileges must be a non-empty subset of {sorted(PRIVILEGES)}")
        now = time.time()
        with self._lock:
            self._next_id += 1
            rule = {
                "id": self._next_id,
                "appid": self.app_id,
                "uid": uid,
                "opid": self._next_id * 7,
                "cname": cname,
                "ip": ip,
                "privileges": list(privileges),
                "expires": now + seconds,
                "createAt": _utc(now),
                "updateAt": _utc(now),
            }
            if seconds:  # time 0 only puts matching users offline
                self.rules[rule["id"]] = rule
        return dict(rule)


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
