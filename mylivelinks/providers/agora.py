"""The `agora` provider: Agora RTC tokens ("006" AccessToken, via agora-token-builder), the
Channel Management banning API ("kicking rules") behind revokes and room closing, and
Agora Notifications (NCS) webhooks signed with `Agora-Signature-V2`.

Agora identifies a participant by a 32-bit uid, not a string: each identity claims a
stable uid in Redis (`uid_of`; a collision moves the newcomer to another uid) so webhooks
can be mapped back. Clients get `uid` (also in `url = "agora:<app id>?uid=<uid>"`) and
join channel `room` with that numeric uid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from agora_token_builder.RtcTokenBuilder import Role_Publisher, Role_Subscriber, RtcTokenBuilder
from flask import Flask
from redis import Redis

from mylivelinks.models.media import MediaEventKind
from mylivelinks.providers.agora_api import AgoraChannelApi
from mylivelinks.providers.base import (
    Capabilities,
    Credentials,
    MediaEvent,
    MediaProvider,
    ProviderRejected,
    ProviderUnavailable,
    PublishChange,
    Role,
    WebhookHeaders,
    WebhookNotConfigured,
    WebhookVerificationFailed,
)

log = logging.getLogger(__name__)

UIDS_KEY = "media:agora:uids"  # uid -> identity
IDENTITY_UIDS_KEY = "media:agora:uid_of"  # identity -> uid
UID_ATTEMPTS = 16
USER_STATUS_PATH = "/dev/v1/channel/user/property/{appid}/{uid}/{channel}"
USER_LIST_PATH = "/dev/v1/channel/user/{appid}/{channel}"
PUBLISH_PRIVILEGES = ("publish_audio", "publish_video")
JOIN_PRIVILEGES = ("join_channel",)
SIGNATURE_HEADER = "Agora-Signature-V2"
RTC_PRODUCT_ID = 1
# NCS channel events of a live-broadcasting channel ("maintain user status"): the kind,
# and whether the user is a broadcaster after it. A user's status is the last of their
# events in clientSeq order.
EVENT_KINDS: dict[int, tuple[MediaEventKind, bool | None]] = {
    102: (MediaEventKind.ROOM_FINISHED, None),  # channel destroyed
    103: (MediaEventKind.PARTICIPANT_JOINED, True),  # broadcaster joined
    104: (MediaEventKind.PARTICIPANT_LEFT, False),  # broadcaster left
    105: (MediaEventKind.PARTICIPANT_JOINED, False),  # audience joined
    106: (MediaEventKind.PARTICIPANT_LEFT, False),  # audience left
    111: (MediaEventKind.TRACK_PUBLISHED, True),  # role changed to broadcaster
    112: (MediaEventKind.TRACK_UNPUBLISHED, False),  # role changed to audience
}
# An "006" token itself expires 24 h after it is built, whatever its privileges say.
MAX_TOKEN_TTL = timedelta(hours=24)


def agora_uid(identity: str, attempt: int = 0) -> int:
    """The Agora uid `identity` is offered first (attempt 0: the first 4 bytes of its
    SHA-256, never 0), and the next ones should another identity hold it."""
    seed = identity if attempt == 0 else f"{identity}#{attempt}"
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") or 1


# Co-host authentication off (Agora's default): a token's publish privileges are not
# enforced, so any audience member may become a broadcaster; a kicking rule is the switch.
WITHOUT_COHOST_AUTHENTICATION = Capabilities(
    server_side_publish_control=True,  # a publish banning rule stops the media
    client_signal_required=True,  # the client switches role with a fresh token
    explicit_rooms=False,  # channels exist while someone is in them
    webhooks=True,
    token_enforces_role=False,
)
# Co-host authentication on: the token's role is the everyday switch (a revoke sends a
# subscriber token); a kicking rule backs it up only for a client still broadcasting.
WITH_COHOST_AUTHENTICATION = Capabilities(
    server_side_publish_control=False,
    client_signal_required=True,
    explicit_rooms=False,
    webhooks=True,
    token_enforces_role=True,
)
# "Query user status" roles in a live-broadcast channel.
HOST_ROLE = 2


class AgoraProvider(MediaProvider):
    """Agora RTC: tokens, banning rules for revokes, NCS webhooks."""

    name = "agora"
    capabilities = WITHOUT_COHOST_AUTHENTICATION

    def __init__(
        self,
        *,
        app_id: str | None,
        app_certificate: str | None,
        customer_id: str | None,
        customer_secret: str | None,
        redis: Redis,
        api_url: str = "https://api.agora.io",
        webhook_secret: str | None = None,
        ban_seconds: int = 600,
        cohost_authentication: bool = False,
        rule_requests_per_second: int = 10,
        timeout: float | tuple[float, float] = (10, 20),
    ):
        self._cohost = cohost_authentication
        self.capabilities = (
            WITH_COHOST_AUTHENTICATION if cohost_authentication else WITHOUT_COHOST_AUTHENTICATION
        )
        self._app_id = app_id or ""
        self._certificate = app_certificate or ""
        self._webhook_secret = webhook_secret
        self._redis = redis
        self._api = AgoraChannelApi(
            app_id=self._app_id,
            customer_id=customer_id,
            customer_secret=customer_secret,
            redis=redis,
            api_url=api_url,
            ban_seconds=ban_seconds,
            rule_requests_per_second=rule_requests_per_second,
            timeout=timeout,
        )

    @classmethod
    def from_app(cls, app: Flask) -> AgoraProvider:
        """Configure from the app (AGORA_* settings, Redis)."""
        config = app.config
        return cls(
            app_id=config.get("AGORA_APP_ID"),
            app_certificate=config.get("AGORA_APP_CERTIFICATE"),
            customer_id=config.get("AGORA_CUSTOMER_ID"),
            customer_secret=config.get("AGORA_CUSTOMER_SECRET"),
            api_url=config.get("AGORA_API_URL") or "https://api.agora.io",
            webhook_secret=config.get("AGORA_WEBHOOK_SECRET"),
            ban_seconds=config.get("AGORA_BAN_SECONDS") or 600,
            cohost_authentication=bool(config.get("AGORA_COHOST_AUTHENTICATION")),
            rule_requests_per_second=config.get("AGORA_BAN_REQUESTS_PER_SECOND") or 10,
            redis=app.extensions["redis"],
        )

    def credentials(self, room: str, identity: str, role: Role, ttl: timedelta) -> Credentials:
        """An "006" RTC token for the identity's uid; subscribers get join privilege only."""
        if not (self._app_id and self._certificate):
            raise ProviderRejected("AGORA_APP_ID and AGORA_APP_CERTIFICATE are not set.")
        if role not in ("publisher", "subscriber"):
            raise ValueError(f"unknown role {role!r}")
        uid = self.uid_of(identity)
        issued = int(time.time())
        expires = issued + int(min(ttl, MAX_TOKEN_TTL).total_seconds())
        token = RtcTokenBuilder.buildTokenWithUid(
            self._app_id,
            self._certificate,
            room,
            uid,
            Role_Publisher if role == "publisher" else Role_Subscriber,
            expires,
        )
        url = f"agora:{self._app_id}?uid={uid}"
        expires_at = datetime.fromtimestamp(expires, UTC)
        return Credentials(self.name, url, token, room, identity, role, expires_at, uid=uid)

    def uid_of(self, identity: str) -> int:
        """The identity's Agora uid, claimed once in Redis: an identity whose first uid
        another one holds (32 bits collide) gets the next free one, never theirs."""
        known = _text(self._redis.hget(IDENTITY_UIDS_KEY, identity))
        if known is not None:
            return int(known)
        for attempt in range(UID_ATTEMPTS):
            uid = agora_uid(identity, attempt)
            claimed = self._redis.hsetnx(UIDS_KEY, str(uid), identity)
            if claimed or _text(self._redis.hget(UIDS_KEY, str(uid))) == identity:
                self._redis.hset(IDENTITY_UIDS_KEY, identity, uid)
                return uid
            log.warning("agora uid collision", extra={"uid": uid, "identity": identity})
        raise ProviderUnavailable(f"no free Agora uid for {identity!r}")

    def set_publishing(self, room: str, identity: str, allowed: bool) -> PublishChange:
        """Allow: delete the publish banning rule on (channel, uid), if any. Revoke: that
        rule, unless co-host authentication makes the subscriber token the switch (then
        `enforce_revoke` bans only a client still broadcasting after the grace)."""
        slot, match = self._publish_rule(room, identity)
        if allowed:
            self._api.remove_rule(slot, match)
        elif not self._cohost:
            self._api.ensure_rule(slot, match)
        return PublishChange.APPLIED  # a rule holds whether the uid is connected or not

    def enforce_revoke(self, room: str, identity: str) -> bool:
        """With co-host authentication: ban the publishing of a uid Agora still reports as
        host after a revoke; True if it did. Without, the revoke itself banned it."""
        if not self._cohost:
            return False
        if self._user_role(room, identity) != HOST_ROLE:
            return False
        self._api.ensure_rule(*self._publish_rule(room, identity))
        log.info(
            "agora broadcaster still publishing after a revoke was banned",
            extra={"media_call": {"room": room, "identity": identity}},
        )
        return True

    def _publish_rule(self, room: str, identity: str) -> tuple[str, dict[str, Any]]:
        match = {"cname": room, "uid": self.uid_of(identity), "privileges": PUBLISH_PRIVILEGES}
        return f"publish:{room}:{identity}", match

    def publishers(self, room: str) -> dict[str, bool] | None:
        """With co-host authentication, Agora's "query user list": hosts may publish,
        audience members not. Without it a revoke is a kicking rule, which Agora's roles do
        not show (a banned host is still listed as host): no view then."""
        if not self._cohost:
            return None
        path = USER_LIST_PATH.format(appid=self._app_id, channel=quote(room, safe=""))
        data = self._api.request("GET", path=path).get("data")
        if not isinstance(data, dict) or data.get("channel_exist") is not True:
            return {}
        roles = {uid: True for uid in data.get("broadcasters") or []}
        roles.update({uid: False for uid in data.get("audience") or []})
        uids = list(roles)
        names = self._redis.hmget(UIDS_KEY, [str(uid) for uid in uids]) if uids else []
        return {
            identity: roles[uid]
            for uid, name in zip(uids, names, strict=True)
            if (identity := _text(name)) is not None
        }

    def participant_present(self, room: str, identity: str) -> bool | None:
        """Ask Agora ("query user status") whether the identity's uid is in the channel."""
        return self._user_role(room, identity) is not None

    def _user_role(self, room: str, identity: str) -> int | None:
        """The uid's role in the channel as Agora reports it (2 host, 3 audience); None when
        it is not in the channel."""
        path = USER_STATUS_PATH.format(
            appid=self._app_id, uid=self.uid_of(identity), channel=quote(room, safe="")
        )
        data = self._api.request("GET", path=path).get("data")
        if not isinstance(data, dict) or data.get("in_channel") is not True:
            return None
        role = data.get("role")
        return role if type(role) is int else 0

    def open_room(self, room: str) -> None:
        """Lift the join banning rule a `close_room` left on the channel, if any."""
        self._api.remove_rule(f"close:{room}", {"cname": room, "privileges": JOIN_PRIVILEGES})

    def close_room(self, room: str) -> None:
        """A join banning rule on the channel: everyone is put offline and kept out."""
        self._api.ensure_rule(f"close:{room}", {"cname": room, "privileges": JOIN_PRIVILEGES})

    def verify_webhook(self, body: bytes, headers: WebhookHeaders, url: str) -> list[MediaEvent]:
        """Check `Agora-Signature-V2` (hex HMAC-SHA256 of the raw body), then map the event."""
        if not self._webhook_secret:
            raise WebhookNotConfigured("AGORA_WEBHOOK_SECRET is not set.")
        signature = _header(headers, SIGNATURE_HEADER)
        expected = hmac.new(self._webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        given = (signature or "").strip().lower().encode("utf-8", "replace")
        if not given or not hmac.compare_digest(expected.encode(), given):
            raise WebhookVerificationFailed("The Agora signature does not match.")
        try:
            notice = json.loads(body)
            event_id = str(notice["noticeId"])
            event_type, product = int(notice["eventType"]), int(notice.get("productId", 1))
            payload = notice["payload"]
        except (ValueError, KeyError, TypeError):
            raise WebhookVerificationFailed("The Agora notification is malformed.") from None
        known = EVENT_KINDS.get(event_type)
        if known is None or product != RTC_PRODUCT_ID:
            # Other products' notifications (cloud recording, media push...) share the URL
            # and carry no channel event: acknowledged and ignored.
            return []
        try:
            room = str(payload["channelName"])
            # `ts` is when the event happened (s); `notifyMs` changes when Agora resends.
            if "ts" in payload:
                occurred_at = datetime.fromtimestamp(float(payload["ts"]), UTC)
            else:
                occurred_at = datetime.fromtimestamp(int(notice["notifyMs"]) / 1000, UTC)
        except (ValueError, KeyError, TypeError, OverflowError, OSError):
            raise WebhookVerificationFailed("The Agora notification is malformed.") from None
        kind, can_publish = known
        uid = payload.get("uid")
        identity = _text(self._redis.hget(UIDS_KEY, str(uid))) if uid is not None else None
        sequence = payload.get("clientSeq")
        return [
            MediaEvent(
                provider=self.name,
                event_id=event_id,
                kind=kind,
                room=room,
                identity=identity,
                occurred_at=occurred_at,
                payload=notice,
                sequence=sequence if type(sequence) is int else None,
                can_publish=can_publish,
            )
        ]

    def close(self) -> None:
        """Close the HTTP session."""
        self._api.close()


def _header(headers: WebhookHeaders, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
