"""The Agora harness: the fake server as the media test suites see it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import time
import uuid
import zlib
from datetime import UTC, datetime
from typing import Any

from mylivelinks.providers.base import Credentials
from tests.fakes.agora_server import (
    EVENT_TYPES,
    JOIN_CHANNEL,
    PUBLISH,
    PUBLISH_AUDIO,
    PUBLISH_VIDEO,
    FakeAgora,
    uid_of,
)
from tests.fakes.media import MediaHarness


def parse_token(token: str) -> dict[str, Any]:
    """The fields of an Agora "006" AccessToken: app id, signature, CRCs and its message.

    Content: signature (uint16 length + bytes), crc32(channel), crc32(uid string), message
    (uint16 length + bytes); message: salt, ts (token expiry), {privilege: expiry} map.
    """
    if not token.startswith("006") or len(token) < 36:
        raise ValueError("not an Agora 006 token")
    app_id, content = token[3:35], base64.b64decode(token[35:], validate=True)
    try:
        (size,) = struct.unpack_from("<H", content)
        signature = content[2 : 2 + size]
        crc_channel, crc_uid, message_size = struct.unpack_from("<IIH", content, 2 + size)
        message = content[12 + size :]
        salt, ts, count = struct.unpack_from("<IIH", message)
        privileges = dict(struct.iter_unpack("<HI", message[10:]))
    except struct.error:
        raise ValueError("malformed Agora token") from None
    if len(signature) != size or len(message) != message_size or len(privileges) != count:
        raise ValueError("malformed Agora token")
    return {
        "app_id": app_id,
        "signature": signature,
        "crc_channel": crc_channel,
        "crc_uid": crc_uid,
        "message": message,
        "salt": salt,
        "ts": ts,
        "privileges": privileges,
    }


class AgoraHarness(MediaHarness):
    """Agora against FakeAgora; uids are mapped back to the identities the harness has seen."""

    name = "agora"

    def __init__(self, *, cohost_authentication: bool = False) -> None:
        self.app_id = secrets.token_hex(16)
        self.app_certificate = secrets.token_hex(16)
        self.customer_id = secrets.token_hex(16)
        self.customer_secret = secrets.token_hex(16)
        self.webhook_secret = secrets.token_urlsafe(24)
        self.server = FakeAgora(
            self.customer_id,
            self.customer_secret,
            self.app_id,
            cohost_authentication=cohost_authentication,
        )
        self._identities: dict[int, str] = {}
        self._uids: dict[str, int] = {}  # uids learned from credentials
        # Agora's clientSeq: increasing with each event of a client.
        self._client_seq = int(time.time() * 1000)

    def start(self) -> None:
        """Start the fake Agora API."""
        self.server.start()

    def stop(self) -> None:
        """Stop the fake Agora API."""
        self.server.stop()

    def settings(self) -> dict[str, Any]:
        """Select Agora, with credentials the fake accepts and its URL."""
        return {
            "MEDIA_PROVIDER": "agora",
            "AGORA_APP_ID": self.app_id,
            "AGORA_APP_CERTIFICATE": self.app_certificate,
            "AGORA_CUSTOMER_ID": self.customer_id,
            "AGORA_CUSTOMER_SECRET": self.customer_secret,
            "AGORA_API_URL": self.server.base_url,
            "AGORA_WEBHOOK_SECRET": self.webhook_secret,
            "AGORA_COHOST_AUTHENTICATION": str(self.server.cohost_authentication).lower(),
        }

    @property
    def publish_control_is_server_side(self) -> bool:
        """Allow and revoke are role switches by token (client signals); rules only back them."""
        return False

    def remember(self, *identities: str) -> None:
        """Identities to report by name in `calls()` (decode and webhook learn them too)."""
        for identity in identities:
            self._identities[self.uid_for(identity)] = identity

    def uid_for(self, identity: str) -> int:
        """The uid `identity` joins with: the one its credentials named, else its first."""
        return self._uids.get(identity) or uid_of(identity)

    def connect(self, room: str, identity: str, *, publishing: bool = True) -> None:
        """`identity` joins the channel as host (`publishing`) or audience."""
        self.remember(identity)
        self.server.join(room, self.uid_for(identity), broadcaster=publishing)

    def disconnect(self, room: str, identity: str) -> None:
        """`identity` leaves the channel."""
        self.server.leave(room, self.uid_for(identity))

    def identity_of(self, uid: int | None) -> str | None:
        """A known identity with `uid`, else an UidIdentity that equals any identity with it."""
        if uid is None:
            return None
        return self._identities.get(uid) or UidIdentity(uid)

    def calls(self) -> list[dict[str, Any]]:
        """Rules created and deleted, oldest first, as revoke/allow/close_room/open_room."""
        with self.server._lock:
            recorded = [c for c in self.server.calls if c.get("status") == 200 and "rule" in c]
        normalised = []
        for call in recorded:
            rule, created = call["rule"], call["method"] == "POST"
            privileges = set(rule["privileges"])
            if rule["uid"] is not None and privileges <= PUBLISH:
                action = "revoke" if created else "allow"
            elif rule["uid"] is None and privileges == {"join_channel"}:
                action = "close_room" if created else "open_room"
            else:
                action = f"rule:{'create' if created else 'delete'}"
            normalised.append(
                {"action": action, "room": rule["cname"], "identity": self.identity_of(rule["uid"])}
            )
        return normalised

    def reset(self) -> None:
        """Forget calls, rules, pending failures and slowness."""
        self.server.reset()

    def fail_next(self, count: int, status: int = 503) -> None:
        """The fake answers the next `count` requests with `status`."""
        self.server.fail_next(count, status)

    def decode(self, credentials: Credentials) -> dict[str, Any]:
        """Parse the 006 token, check app id, CRCs, uid and HMAC signature; read privileges."""
        expected_url = f"agora:{self.app_id}?uid={credentials.uid}"
        if credentials.uid is None or credentials.url != expected_url:
            raise ValueError(f"unexpected uid {credentials.uid!r} or url {credentials.url!r}")
        fields = parse_token(credentials.token)
        uid = str(credentials.uid)
        if fields["app_id"] != self.app_id:
            raise ValueError("token of another app")
        if fields["crc_channel"] != zlib.crc32(credentials.room.encode()):
            raise ValueError("token of another channel")
        if fields["crc_uid"] != zlib.crc32(uid.encode()):
            raise ValueError("token of another uid")
        signed = (self.app_id + credentials.room + uid).encode() + fields["message"]
        expected = hmac.new(self.app_certificate.encode(), signed, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, fields["signature"]):
            raise ValueError("token signature does not verify")
        privileges = fields["privileges"]
        self._uids[credentials.identity] = credentials.uid
        self.remember(credentials.identity)
        # Without co-host authentication Agora does not check publish privileges at all.
        may_publish = {PUBLISH_AUDIO, PUBLISH_VIDEO} <= privileges.keys()
        return {
            "room": credentials.room,
            "identity": credentials.identity,
            "can_publish": may_publish or not self.server.cohost_authentication,
            "can_subscribe": JOIN_CHANNEL in privileges,
            "expires_at": datetime.fromtimestamp(
                min(privileges.get(JOIN_CHANNEL, fields["ts"]), fields["ts"]), UTC
            ),
        }

    def webhook(
        self,
        kind: str,
        room: str,
        identity: str | None,
        *,
        url: str,
        event_id: str | None = None,
        tamper: bool = False,
        wrong_secret: bool = False,
        stale: bool = False,
        at: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """An NCS channel event with `Agora-Signature` (SHA1) and `-V2` (SHA256) of the body.

        NCS has no freshness check, so `stale` signs with another secret like `wrong_secret`.
        `ts` is in whole seconds; `clientSeq` orders the events as they were built.
        """
        now = time.time()
        self._client_seq += 1
        payload: dict[str, Any] = {"channelName": room, "ts": at or int(now)}
        if kind != "room_finished":
            if identity is not None:
                self.remember(identity)
            uid = self.uid_for(identity) if identity is not None else secrets.randbelow(2**31) + 1
            payload.update(uid=uid, platform=7, clientSeq=self._client_seq)
            if kind in ("participant_left", "audience_left"):
                payload["reason"] = 1
        notice = {
            "noticeId": event_id or f"{uuid.uuid4().int % 10**10}:{secrets.randbelow(9999)}:1",
            "productId": 1,
            "eventType": EVENT_TYPES[kind],
            "notifyMs": int(now * 1000),
            "sid": secrets.token_hex(8).upper(),
            "payload": payload,
        }
        body = json.dumps(notice).encode()
        secret = ("not-the-secret" if wrong_secret or stale else self.webhook_secret).encode()
        headers = {
            "Content-Type": "application/json",
            "Agora-Signature": hmac.new(secret, body, hashlib.sha1).hexdigest(),
            "Agora-Signature-V2": hmac.new(secret, body, hashlib.sha256).hexdigest(),
        }
        if tamper:
            body = body.replace(b'"channelName": "', b'"channelName": "x')
        return body, headers


class UidIdentity(str):
    """What the vendor saw of an identity the harness never met: it equals any identity
    with this uid (Agora only ever sees the uid)."""

    uid: int

    def __new__(cls, uid: int) -> UidIdentity:
        value = super().__new__(cls, f"uid:{uid}")
        value.uid = uid
        return value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UidIdentity):
            return other.uid == self.uid
        return isinstance(other, str) and uid_of(other) == self.uid

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__
