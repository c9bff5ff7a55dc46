"""A fake of Agora's banning ("kicking rule") RESTful API on 127.0.0.1, and the Agora harness.

The harness reads tokens with its own parser of the "006" AccessToken format and recomputes
uids from identities itself, so tests never ask our adapter what it did.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.http_fake import FakeHandler, FlakyFakeHttpServer

RULES_PATH = "/dev/v1/kicking-rule"
USER_STATUS_PREFIX = "/dev/v1/channel/user/property/"
USER_LIST_PREFIX = "/dev/v1/channel/user/"
# Roles as "query user status" reports them in a live-broadcast channel.
HOST_ROLE, AUDIENCE_ROLE = 2, 3
PRIVILEGES = {"join_channel", "publish_audio", "publish_video"}
PUBLISH = {"publish_audio", "publish_video"}
# "006" token privileges (AccessToken.py): join, publish audio/video/data.
JOIN_CHANNEL, PUBLISH_AUDIO, PUBLISH_VIDEO = 1, 2, 3
# Our normalised kinds (and Agora's audience events) → NCS eventType of a live channel.
EVENT_TYPES = {
    "room_finished": 102,
    "participant_joined": 103,  # broadcaster joins
    "participant_left": 104,  # broadcaster leaves
    "audience_joined": 105,
    "audience_left": 106,
    "track_published": 111,  # role changed to broadcaster
    "track_unpublished": 112,  # role changed to audience
}


def uid_of(identity: str) -> int:
    """The uid an identity joins Agora with: first 4 bytes of SHA-256 (big-endian), never 0."""
    return int.from_bytes(hashlib.sha256(identity.encode()).digest()[:4], "big") or 1


class _Handler(FakeHandler):
    do_PUT = FakeHandler.do_GET  # reaches `_dispatch` (405) rather than http.server's 501


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class FakeAgora(FlakyFakeHttpServer):
    """Agora's kicking-rule API (POST/GET/DELETE) with Basic auth, on 127.0.0.1.

    `base_url` is for AGORA_API_URL. `fail_next` answers the next requests with a status
    before auth, doing nothing, and replaces the failures still pending; `answer_slowly`
    does each request's work, then waits before answering.
    """

    thread_name = "fake-agora"
    handler_class = _Handler
    failures_accumulate = False

    def __init__(
        self,
        customer_id: str,
        customer_secret: str,
        app_id: str,
        *,
        cohost_authentication: bool = False,
    ):
        super().__init__()
        # The project's co-host authentication switch (on only when Agora support turns it
        # on): off, a token's publish privileges are not checked and any audience member
        # may switch to broadcaster.
        self.cohost_authentication = cohost_authentication
        self.customer_id, self.customer_secret, self.app_id = customer_id, customer_secret, app_id
        self.calls: list[dict[str, Any]] = []
        self.rules: dict[int, dict[str, Any]] = {}
        # channel -> {uid: (role, joined at)}: who is in each channel, as Agora sees it.
        self.channels: dict[str, dict[int, tuple[int, int]]] = {}
        self._next_id = 1000
        # Agora answers 429 past 10 banning-API requests per second per account.
        self.rule_requests_per_second = 10
        self._rule_requests: list[float] = []

    def reset(self) -> None:
        """Forget calls, rules, channels, pending failures and slowness."""
        with self._lock:
            self.calls.clear()
            self.rules.clear()
            self.channels.clear()
            self._rule_requests.clear()
            self._forget_faults()

    def join(self, channel: str, uid: int, *, broadcaster: bool = True) -> None:
        """`uid` joins the channel as host or audience (the same uid joining again replaces
        its earlier session, as Agora does)."""
        with self._lock:
            role = HOST_ROLE if broadcaster else AUDIENCE_ROLE
            self.channels.setdefault(channel, {})[uid] = (role, int(time.time()))

    def leave(self, channel: str, uid: int) -> None:
        """`uid` leaves the channel."""
        with self._lock:
            self.channels.get(channel, {}).pop(uid, None)

    # --- request handling -------------------------------------------------------------------

    def _handle(self, handler: FakeHandler) -> None:
        split = urlsplit(handler.path)
        raw = handler.read_body()
        call: dict[str, Any] = {
            "method": handler.command,
            "path": split.path,
            "query": {k: v[-1] for k, v in parse_qs(split.query).items()},
            "body": None,
            "headers": dict(handler.headers.items()),
        }
        with self._lock:
            failure = self._take_failure()
        try:
            if failure is not None:
                raise _Refused(failure, "Service Unavailable (simulated)")
            self._authenticate(handler.headers.get("Authorization"))
            if split.path == RULES_PATH:
                self._count_rule_request()
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
        with contextlib.suppress(OSError):  # the client gave up waiting
            handler.reply(status, data)

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

    def _count_rule_request(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._rule_requests = [at for at in self._rule_requests if at > now - 1.0]
            if len(self._rule_requests) >= self.rule_requests_per_second:
                raise _Refused(429, "Too Many Requests")
            self._rule_requests.append(now)

    def _dispatch(self, call: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if call["path"].startswith(USER_STATUS_PREFIX) and call["method"] == "GET":
            return self._user_status(call["path"].removeprefix(USER_STATUS_PREFIX))
        if call["path"].startswith(USER_LIST_PREFIX) and call["method"] == "GET":
            return self._user_list(call["path"].removeprefix(USER_LIST_PREFIX))
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

    def _user_status(self, rest: str) -> tuple[int, dict[str, Any]]:
        parts = [unquote(part) for part in rest.split("/")]
        if len(parts) != 3 or not parts[2]:
            raise _Refused(404, "no Route matched with those values")
        appid, raw_uid, channel = parts
        self._check_appid(appid)
        if not raw_uid.isdigit() or not 0 < int(raw_uid) < 2**32:
            raise _Refused(400, "uid must be an integer user ID")
        uid = int(raw_uid)
        with self._lock:
            found = self.channels.get(channel, {}).get(uid)
        if found is None:
            return 200, {"success": True, "data": {"in_channel": False}}
        role, joined = found
        data = {"in_channel": True, "uid": uid, "join": joined, "role": role, "platform": 7}
        return 200, {"success": True, "data": data}

    def _user_list(self, rest: str) -> tuple[int, dict[str, Any]]:
        parts = [unquote(part) for part in rest.split("/")]
        if len(parts) != 2 or not parts[1]:
            raise _Refused(404, "no Route matched with those values")
        self._check_appid(parts[0])
        with self._lock:
            users = dict(self.channels.get(parts[1], {}))
        if not users:
            return 200, {"success": True, "data": {"channel_exist": False}}
        hosts = [uid for uid, (role, _) in users.items() if role == HOST_ROLE]
        audience = [uid for uid, (role, _) in users.items() if role != HOST_ROLE]
        data = {
            "channel_exist": True,
            "mode": 2,
            "broadcasters": hosts,
            "audience": audience,
            "audience_total": len(audience),
        }
        return 200, {"success": True, "data": data}

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
