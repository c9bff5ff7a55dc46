"""Google Play: one-time products verified with the Android Publisher API, and Real-time
developer notifications pushed by Pub/Sub.

The API is called through Google's `google-api-python-client` with a service account
(`google-auth`); a push is accepted only with the OIDC token Pub/Sub signs for the
subscription, verified with `google-auth` (signature, expiry, audience, then the
subscription's service account and its verified e-mail).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from flask import Flask
from google.auth.transport import requests as google_requests
from google.oauth2 import id_token, service_account
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from mylivelinks.models.payments import CoinPurchase
from mylivelinks.payments.base import (
    ListedVoid,
    PaymentNotConfigured,
    PaymentProvider,
    PaymentRejected,
    PaymentUnavailable,
    PurchaseInvalid,
    StorePurchase,
    VerifiedPaymentEvent,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
    header,
)
from mylivelinks.payments.facts import PaymentFacts
from mylivelinks.payments.google_records import (
    CONSUMED,
    PURCHASE_STATE_PURCHASED,
    PURCHASED,
    VOIDED,
    event_facts,
    listed_void_notification,
    notification_kind,
    payment_id_of,
    purchase_facts,
)
from mylivelinks.payments.settings import GOOGLE_VOIDED_MAX_DAYS

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
HTTP_TIMEOUT_SECONDS = 20
TOKEN_CLOCK_SKEW_SECONDS = 10

# How far before the notification the Voided Purchases API is searched.
VOIDED_SEARCH_WINDOW = timedelta(days=3)
# The Voided Purchases API: the largest page it serves, the type listing one-time products
# only (1 would add subscriptions, which the app does not sell), and the prefix of the
# event id a listed void is stored under (one per order, so a second read adds nothing).
VOIDED_PAGE_SIZE = 1000
VOIDED_TYPE_ONE_TIME = 0
LISTED_VOID_PREFIX = "voidedpurchases:"
VOIDED_CLOCK_MARGIN = timedelta(minutes=1)  # kept from the oldest day Google lists


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _status(exc: HttpError) -> int:
    return int(exc.resp.status)


def _unavailable(exc: Exception) -> bool:
    if isinstance(exc, HttpError):
        return _status(exc) >= 500 or _status(exc) == 429
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return bool(getattr(exc, "retryable", False))
    return True  # transport failures: connection refused, timeouts


_CALL_ERRORS = (
    HttpError,
    google.auth.exceptions.GoogleAuthError,
    httplib2.HttpLib2Error,
    OSError,
)


class GoogleProvider(PaymentProvider):
    """Android packs sold as consumable one-time products through Google Play."""

    name = "google"
    has_checkout = False
    finishes_purchases = True  # consumed once credited, so the buyer can buy it again
    voided_history = timedelta(days=GOOGLE_VOIDED_MAX_DAYS)

    def __init__(
        self,
        *,
        package_name: str | None,
        service_account_file: str | None,
        api_url: str | None,
        push_audience: str | None,
        push_service_account: str | None,
        certs_url: str,
    ) -> None:
        self._package = package_name
        self._service_account_file = service_account_file
        self._api_url = api_url
        self._audience = push_audience
        self._push_account = push_service_account
        self._certs_url = certs_url
        self._credentials: service_account.Credentials | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_app(cls, app: Flask) -> GoogleProvider:
        """Configure from the app's GOOGLE_* settings."""
        return cls(
            package_name=app.config.get("GOOGLE_PLAY_PACKAGE_NAME"),
            service_account_file=app.config.get("GOOGLE_SERVICE_ACCOUNT_FILE"),
            api_url=app.config.get("GOOGLE_PLAY_API_URL"),
            push_audience=app.config.get("GOOGLE_PUBSUB_AUDIENCE"),
            push_service_account=app.config.get("GOOGLE_PUBSUB_SERVICE_ACCOUNT"),
            certs_url=app.config["GOOGLE_OIDC_CERTS_URL"],
        )

    # --- the Android Publisher API ----------------------------------------------------------

    def _publisher(self) -> Any:
        """A client of the Android Publisher API (one per call: httplib2 is not thread-safe)."""
        if not (self._package and self._service_account_file):
            raise PaymentNotConfigured(
                "GOOGLE_PLAY_PACKAGE_NAME or GOOGLE_SERVICE_ACCOUNT_FILE is not set"
            )
        with self._lock:
            if self._credentials is None:
                self._credentials = service_account.Credentials.from_service_account_file(
                    self._service_account_file, scopes=[SCOPE]
                )
            credentials = self._credentials
        http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=HTTP_TIMEOUT_SECONDS)
        )
        options = {"api_endpoint": self._api_url} if self._api_url else None
        return discovery.build(
            "androidpublisher",
            "v3",
            http=http,
            cache_discovery=False,
            static_discovery=True,
            client_options=options,
        )

    def _product(self, product_id: str, purchase_token: str) -> dict[str, Any]:
        return (
            self._publisher()
            .purchases()
            .products()
            .get(packageName=self._package, productId=product_id, token=purchase_token)
            .execute()
        )

    def verify_purchase(self, proof: Mapping[str, str]) -> StorePurchase:
        """Ask Google about a Play Billing purchase token; it must be purchased."""
        product_id, token = proof.get("product_id") or "", proof.get("purchase_token") or ""
        try:
            record = self._product(product_id, token)
        except _CALL_ERRORS as exc:
            if _unavailable(exc):
                raise PaymentUnavailable(f"Google Play is unavailable: {exc}") from exc
            if isinstance(exc, HttpError) and _status(exc) in (400, 404, 410):
                raise PurchaseInvalid("Google Play does not know this purchase") from exc
            raise PaymentRejected(f"Google Play refused the call: {exc}") from exc
        if record.get("purchaseState") != PURCHASE_STATE_PURCHASED:
            raise PurchaseInvalid("the purchase is pending or cancelled, not purchased")
        return StorePurchase(payment_ref=token, facts=purchase_facts(record, token, product_id))

    def finish_purchase(self, purchase: CoinPurchase) -> None:
        """Consume the purchase (which also acknowledges it) unless it already is."""
        token = purchase.provider_session_id
        if not token:
            return
        try:
            record = self._product(purchase.pack_id, token)
            if (
                record.get("consumptionState") == CONSUMED
                or record.get("purchaseState") != PURCHASE_STATE_PURCHASED
            ):
                return
            self._publisher().purchases().products().consume(
                packageName=self._package, productId=purchase.pack_id, token=token
            ).execute()
        except _CALL_ERRORS as exc:
            if _unavailable(exc):
                raise PaymentUnavailable(f"Google Play is unavailable: {exc}") from exc
            raise PaymentRejected(f"Google Play refused to consume: {exc}") from exc

    def _voided_entries(self, **window: str) -> Iterator[dict[str, Any]]:
        """Every entry the Voided Purchases API lists for `window` (startTime, endTime),
        page after page; a page token carries the window, so later pages name none."""
        purchases = self._publisher().purchases()
        request = purchases.voidedpurchases().list(
            packageName=self._package,
            maxResults=VOIDED_PAGE_SIZE,
            type=VOIDED_TYPE_ONE_TIME,
            **window,
        )
        while True:
            page = request.execute()
            yield from page.get("voidedPurchases", [])
            next_token = (page.get("tokenPagination") or {}).get("nextPageToken")
            if not next_token:
                return
            request = purchases.voidedpurchases().list(
                packageName=self._package,
                maxResults=VOIDED_PAGE_SIZE,
                type=VOIDED_TYPE_ONE_TIME,
                token=next_token,
            )

    def _voided(self, notification: Mapping[str, Any]) -> dict[str, Any] | None:
        """The Voided Purchases API's entry for the notification's order, if listed."""
        voided = notification["voidedPurchaseNotification"]
        event_ms = int(notification.get("eventTimeMillis") or 0)
        since = datetime.fromtimestamp(event_ms / 1000, UTC) - VOIDED_SEARCH_WINDOW
        # Google refuses a startTime older than it lists (a late or undated notification).
        oldest = datetime.now(UTC) - self.voided_history + VOIDED_CLOCK_MARGIN
        for entry in self._voided_entries(startTime=_millis(max(since, oldest))):
            if entry.get("purchaseToken") == voided.get("purchaseToken") or (
                voided.get("orderId") and entry.get("orderId") == voided.get("orderId")
            ):
                return entry
        return None

    def lists_voided_purchases(self) -> bool:
        """Whether the package and the service account are set."""
        return bool(self._package and self._service_account_file)

    def voided_purchases(self, start: datetime, end: datetime | None = None) -> list[ListedVoid]:
        """The one-time purchases Google recorded as voided from `start` to `end` (to
        Google's now without one), each as the notification Google would have pushed."""
        window = {"startTime": _millis(start)}
        if end is not None:
            window["endTime"] = _millis(end)
        try:
            entries = list(self._voided_entries(**window))
        except _CALL_ERRORS as exc:
            if _unavailable(exc):
                raise PaymentUnavailable(f"Google Play is unavailable: {exc}") from exc
            raise PaymentRejected(f"Google Play refused to list voided purchases: {exc}") from exc
        return [
            self._listed_void(entry)
            for entry in entries
            if isinstance(entry.get("purchaseToken"), str) and entry["purchaseToken"]
        ]

    def _listed_void(self, entry: dict[str, Any]) -> ListedVoid:
        token = entry["purchaseToken"]
        notification = listed_void_notification(entry, self._package or "")
        event = VerifiedPaymentEvent(
            provider=self.name,
            event_id=LISTED_VOID_PREFIX + payment_id_of(entry, token),
            event_type=VOIDED,
            payment_ref=token,
            payload=notification,
        )
        return ListedVoid(
            event=event,
            store_record={"voided": entry},
            raw_body=json.dumps(entry, sort_keys=True).encode(),
        )

    def look_up(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The purchase (products.get) a purchase notification names, or the voided purchase
        (Voided Purchases API) a void notification names."""
        try:
            if event_type == PURCHASED:
                one_time = payload["oneTimeProductNotification"]
                return {"purchase": self._product(one_time["sku"], one_time["purchaseToken"])}
            if event_type == VOIDED:
                return {"voided": self._voided(payload)}
        except _CALL_ERRORS as exc:
            if _unavailable(exc):
                raise PaymentUnavailable(f"Google Play is unavailable: {exc}") from exc
            raise PaymentRejected(f"Google Play refused the call: {exc}") from exc
        return None

    # --- Real-time developer notifications ----------------------------------------------------

    def _verify_push_token(self, headers: Mapping[str, str]) -> None:
        if not (self._audience and self._push_account and self._package):
            raise PaymentNotConfigured(
                "GOOGLE_PUBSUB_AUDIENCE, GOOGLE_PUBSUB_SERVICE_ACCOUNT or "
                "GOOGLE_PLAY_PACKAGE_NAME is not set"
            )
        scheme, _, token = (header(headers, "Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise WebhookSignatureInvalid("no Bearer token")
        try:
            claims = id_token.verify_token(
                token.strip(),
                google_requests.Request(),
                audience=self._audience,
                certs_url=self._certs_url,
                clock_skew_in_seconds=TOKEN_CLOCK_SKEW_SECONDS,
            )
        except google.auth.exceptions.TransportError as exc:
            raise PaymentUnavailable(f"Google's certificates are unreachable: {exc}") from exc
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            raise WebhookSignatureInvalid(f"the push token did not verify: {exc}") from exc
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise WebhookSignatureInvalid("the push token was not issued by Google")
        if claims.get("email") != self._push_account or claims.get("email_verified") is not True:
            raise WebhookSignatureInvalid("the push token is not the subscription's account")

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedPaymentEvent:
        """Verify a Pub/Sub push (its OIDC token), then decode the developer notification."""
        self._verify_push_token(headers)
        try:
            push = json.loads(body)
            message = push["message"]
            message_id = message.get("messageId") or message["message_id"]
            notification = json.loads(base64.b64decode(message["data"], validate=True))
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise WebhookPayloadInvalid("the body is not a Pub/Sub push message") from None
        if not isinstance(notification, dict) or not isinstance(message_id, str):
            raise WebhookPayloadInvalid("the message is not a developer notification")
        if notification.get("packageName") != self._package:
            raise WebhookPayloadInvalid("the notification is about another app")
        event_type, token = notification_kind(notification)
        return VerifiedPaymentEvent(
            provider=self.name,
            event_id=message_id,
            event_type=event_type,
            payment_ref=token,
            payload=notification,
        )

    def read_facts(
        self,
        event_type: str,
        payload: dict[str, Any],
        store_record: dict[str, Any] | None = None,
    ) -> PaymentFacts | None:
        """A purchase's facts as products.get answered; a void refunds it (a chargeback is
        also a lost dispute); cancellations of pending purchases change nothing."""
        return event_facts(event_type, payload, store_record)
