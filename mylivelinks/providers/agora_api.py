"""Agora's Channel Management RESTful API as the `agora` provider uses it: banning
("kicking") rules created and deleted once per slot across workers, and user status.

Rule requests take their turn from a Redis throttle shared by every process, since Agora
allows 10 of them a second per account.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import requests
from redis import Redis
from redis.exceptions import LockError

from mylivelinks.providers.base import ProviderRejected, ProviderUnavailable
from mylivelinks.providers.throttle import VendorThrottle

RULE_KEY = "media:agora:rule:{slot}"
PENDING_KEY = "media:agora:pending:{slot}"
LOCK_KEY = "media:agora:lock:{slot}"
RULES_PATH = "/dev/v1/kicking-rule"
# Agora clamps a rule's time_in_seconds to this range.
BAN_SECONDS_RANGE = (10, 86430)


class AgoraChannelApi:
    """Kicking rules by slot (one rule per slot, remembered in Redis) and other calls."""

    def __init__(
        self,
        *,
        app_id: str,
        customer_id: str | None,
        customer_secret: str | None,
        redis: Redis,
        api_url: str,
        ban_seconds: int,
        rule_requests_per_second: int,
        timeout: float | tuple[float, float],
    ):
        self._app_id = app_id
        self._api_url = api_url.rstrip("/")
        self._ban_seconds = ban_seconds
        # Agora advises ≥ 20 s for a rule creation, whose answer carries the rule id.
        self._timeout = timeout
        self._redis = redis
        # Agora allows 10 banning-API requests per second per account: all workers share it.
        self._rule_throttle = VendorThrottle(
            redis, f"agora-kicking-rule:{app_id}", rule_requests_per_second
        )
        self._session = requests.Session()
        self._session.auth = (customer_id or "", customer_secret or "")
        low, high = BAN_SECONDS_RANGE
        # Forget a stored rule id a little before Agora forgets the rule itself.
        self._rule_ttl = max(min(max(ban_seconds, low), high) - 5, 1)

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def ensure_rule(self, slot: str, match: dict[str, Any]) -> None:
        """Create the rule unless one is stored (or an unsure earlier creation made one)."""
        with self._locked(slot):
            if self._redis.get(RULE_KEY.format(slot=slot)) is not None:
                return
            pending = PENDING_KEY.format(slot=slot)
            if self._redis.get(pending) is not None:
                found = self._find_rules(match)
                if found:
                    self._store_rule(slot, max(found))
                    return
            try:
                rule_id = self._create_rule(match)
            except ProviderUnavailable:
                # It may exist all the same: look for it before creating another.
                self._redis.set(pending, 1, ex=self._rule_ttl)
                raise
            self._store_rule(slot, rule_id)

    def remove_rule(self, slot: str, match: dict[str, Any]) -> None:
        """Delete the stored rule (and any an unsure creation made); none: nothing to do."""
        with self._locked(slot):
            key, pending = RULE_KEY.format(slot=slot), PENDING_KEY.format(slot=slot)
            stored = _text(self._redis.get(key))
            rule_ids = {int(stored)} if stored is not None else set()
            if self._redis.get(pending) is not None:
                rule_ids.update(self._find_rules(match))
            for rule_id in sorted(rule_ids):
                self.request("DELETE", json={"appid": self._app_id, "id": rule_id}, gone_ok=True)
            self._redis.delete(key, pending)

    def _store_rule(self, slot: str, rule_id: int) -> None:
        pipeline = self._redis.pipeline()
        pipeline.set(RULE_KEY.format(slot=slot), rule_id, ex=self._rule_ttl)
        pipeline.delete(PENDING_KEY.format(slot=slot))
        pipeline.execute()

    def _create_rule(self, match: dict[str, Any]) -> int:
        rule = {
            "appid": self._app_id,
            **match,
            "privileges": list(match["privileges"]),
            "time_in_seconds": self._ban_seconds,
        }
        answer = self.request("POST", json=rule)
        rule_id = answer.get("id")
        if not isinstance(rule_id, int) or isinstance(rule_id, bool):
            raise ProviderUnavailable(f"Agora created a rule without an id: {answer!r}")
        return rule_id

    def _find_rules(self, match: dict[str, Any]) -> list[int]:
        """Ids of the existing rules on the same channel, uid and privileges."""
        answer = self.request("GET", params={"appid": self._app_id})
        found = []
        for rule in answer.get("rules") or []:
            if not isinstance(rule, dict) or not isinstance(rule.get("id"), int):
                continue
            if (
                rule.get("cname") == match["cname"]
                and (rule.get("uid") or None) == match.get("uid")
                and set(rule.get("privileges") or ()) == set(match["privileges"])
            ):
                found.append(rule["id"])
        return found

    def request(
        self, method: str, *, path: str = RULES_PATH, gone_ok: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        """Call a Channel Management endpoint; vendor failures become MediaProviderErrors."""
        if path == RULES_PATH:
            self._rule_throttle.wait_turn()
        try:
            response = self._session.request(
                method, self._api_url + path, timeout=self._timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Agora could not be reached: {exc}") from None
        status = response.status_code
        if gone_ok and status == 404:
            return {}
        if status >= 500 or status == 429:
            raise ProviderUnavailable(f"Agora answered {status}: {response.text[:200]}")
        if status >= 400:
            raise ProviderRejected(f"Agora refused {method} ({status}): {response.text[:200]}")
        try:
            answer = response.json()
        except ValueError:
            raise ProviderUnavailable(f"Agora answered {status} without JSON") from None
        # The rule endpoints answer {"status": "success"}, the query ones {"success": true}.
        succeeded = isinstance(answer, dict) and (
            answer.get("status") == "success" or answer.get("success") is True
        )
        if not succeeded:
            raise ProviderUnavailable(f"Agora answered {status}: {response.text[:200]}")
        return answer

    @contextmanager
    def _locked(self, slot: str) -> Iterator[None]:
        """One rule change per slot at a time, across workers."""
        lock = self._redis.lock(LOCK_KEY.format(slot=slot), timeout=120, blocking_timeout=60)
        if not lock.acquire():
            raise ProviderUnavailable(f"another worker is changing Agora rule {slot}")
        try:
            yield
        finally:
            with suppress(LockError):  # expired meanwhile: nothing left to release
                lock.release()


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
