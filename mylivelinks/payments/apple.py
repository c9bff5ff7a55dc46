"""The App Store: StoreKit 2 signed transactions and App Store Server Notifications V2.

Everything Apple signs is verified with Apple's own `app-store-server-library`
(`SignedDataVerifier`: the x5c chain up to the configured Apple roots, with Apple's
certificate extensions, OCSP when online checks are on, then bundle id, app Apple id and
environment). Consumption requests are answered with its App Store Server API client.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from appstoreserverlibrary.api_client import APIException, AppStoreServerAPIClient
from appstoreserverlibrary.models.ConsumptionRequest import ConsumptionRequest
from appstoreserverlibrary.models.DeliveryStatus import DeliveryStatus
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.signed_data_verifier import (
    SignedDataVerifier,
    VerificationException,
    VerificationStatus,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask

from mylivelinks.models.payments import CoinPurchase
from mylivelinks.payments.base import (
    PaymentNotConfigured,
    PaymentProvider,
    PaymentUnavailable,
    PurchaseInvalid,
    StorePurchase,
    VerifiedPaymentEvent,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from mylivelinks.payments.facts import WHOLE_SHARE, PaymentFacts

log = logging.getLogger(__name__)

# Notification types that carry a purchase's state (the rest concern subscriptions etc.).
PAID = "ONE_TIME_CHARGE"
REFUND = "REFUND"
REFUND_REVERSED = "REFUND_REVERSED"
REFUND_DECLINED = "REFUND_DECLINED"
REVOKE = "REVOKE"
CONSUMPTION_REQUEST = "CONSUMPTION_REQUEST"


def load_root_certificates(folder: str | None) -> list[bytes]:
    """The DER bytes of every certificate (DER or PEM) in `folder`; [] without one."""
    if not folder:
        return []
    roots = []
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            cert = (
                x509.load_pem_x509_certificate(data)
                if data.lstrip().startswith(b"-----BEGIN")
                else x509.load_der_x509_certificate(data)
            )
        except ValueError:
            log.warning("not a certificate, skipped", extra={"path": str(path)})
            continue
        roots.append(cert.public_bytes(Encoding.DER))
    return roots


def _unverified_claims(signed: str) -> dict[str, Any]:
    # Only ever called on data the verifier has just verified (same bytes).
    return jwt.decode(signed, options={"verify_signature": False})


def _millis(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC) if value is not None else None


def _account_token(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None


def _refunded_share(transaction: dict[str, Any]) -> int:
    percentage = transaction.get("revocationPercentage")
    if transaction.get("revocationType") == "REFUND_PRORATED" and percentage is not None:
        return int(percentage)
    return WHOLE_SHARE


def transaction_facts(transaction: dict[str, Any], reported_at: datetime | None) -> PaymentFacts:
    """What a decoded signed transaction says: paid, and refunded if it was revoked."""
    revoked = transaction.get("revocationDate") is not None
    return PaymentFacts(
        payment_id=transaction.get("transactionId"),
        product_id=transaction.get("productId"),
        buyer_id=_account_token(transaction.get("appAccountToken")),
        store_paid=True,
        refunded_share=_refunded_share(transaction) if revoked else None,
        reported_at=reported_at if revoked else None,
    )


class _ApiClient(AppStoreServerAPIClient):
    """Apple's client with its base URL configurable (the library fixes it per environment)."""

    def __init__(self, base_url: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if base_url:
            self._base_url = base_url.rstrip("/")


class AppleProvider(PaymentProvider):
    """iOS packs sold as consumable in-app purchases through the App Store."""

    name = "apple"
    has_checkout = False

    def __init__(
        self,
        *,
        bundle_id: str | None,
        app_apple_id: int | None,
        environment: str,
        root_certificates: list[bytes],
        online_checks: bool,
        api_key_id: str | None = None,
        api_issuer_id: str | None = None,
        api_private_key: bytes | None = None,
        api_url: str | None = None,
        consumption_consent: bool = False,
    ) -> None:
        self._bundle_id = bundle_id
        self._app_apple_id = app_apple_id
        self._environment = Environment(environment)
        self._roots = root_certificates
        self._online_checks = online_checks
        self._api_key_id = api_key_id
        self._api_issuer_id = api_issuer_id
        self._api_private_key = api_private_key
        self._api_url = api_url
        self._consumption_consent = consumption_consent
        self._verifier: SignedDataVerifier | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_app(cls, app: Flask) -> AppleProvider:
        """Configure from the app's APPLE_* settings."""
        key_file = app.config.get("APPLE_API_PRIVATE_KEY_FILE")
        return cls(
            bundle_id=app.config.get("APPLE_BUNDLE_ID"),
            app_apple_id=app.config.get("APPLE_APP_APPLE_ID"),
            environment=app.config["APPLE_ENVIRONMENT"],
            root_certificates=load_root_certificates(app.config.get("APPLE_ROOT_CERTIFICATES_DIR")),
            online_checks=app.config["APPLE_ONLINE_CHECKS"],
            api_key_id=app.config.get("APPLE_API_KEY_ID"),
            api_issuer_id=app.config.get("APPLE_API_ISSUER_ID"),
            api_private_key=Path(key_file).read_bytes() if key_file else None,
            api_url=app.config.get("APPLE_API_URL"),
            consumption_consent=app.config["APPLE_CONSUMPTION_CONSENT"],
        )

    def _signed_data(self) -> SignedDataVerifier:
        signed = self._environment not in (Environment.XCODE, Environment.LOCAL_TESTING)
        if not self._bundle_id or (signed and not self._roots):
            raise PaymentNotConfigured("APPLE_BUNDLE_ID or APPLE_ROOT_CERTIFICATES_DIR is not set")
        with self._lock:
            if self._verifier is None:
                self._verifier = SignedDataVerifier(
                    self._roots,
                    self._online_checks,
                    self._environment,
                    self._bundle_id,
                    self._app_apple_id,
                )
            return self._verifier

    def _transaction(self, signed: str) -> dict[str, Any]:
        """The claims of a signed transaction, verified (VerificationException otherwise)."""
        self._signed_data().verify_and_decode_signed_transaction(signed)
        return _unverified_claims(signed)

    def verify_purchase(self, proof: Mapping[str, str]) -> StorePurchase:
        """Verify StoreKit 2's signed transaction (JWS) as Apple signed it for this app."""
        signed = proof.get("signed_transaction") or ""
        try:
            transaction = self._transaction(signed)
        except VerificationException as exc:
            if exc.status == VerificationStatus.RETRYABLE_VERIFICATION_FAILURE:
                raise PaymentUnavailable("Apple's certificate status could not be checked") from exc
            problem = exc.status.name
            raise PurchaseInvalid(f"the signed transaction did not verify ({problem})") from exc
        if not transaction.get("transactionId"):
            raise PurchaseInvalid("the signed transaction has no transactionId")
        return StorePurchase(
            payment_ref=transaction["transactionId"],
            facts=transaction_facts(transaction, _millis(transaction.get("signedDate"))),
        )

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedPaymentEvent:
        """Verify an App Store Server Notification V2 (`{"signedPayload": JWS}`) and the
        signed transaction it carries."""
        verifier = self._signed_data()
        try:
            envelope = json.loads(body)
        except ValueError:
            envelope = None
        signed = envelope.get("signedPayload") if isinstance(envelope, dict) else None
        if not isinstance(signed, str):
            raise WebhookPayloadInvalid('the body is not {"signedPayload": ...}')
        try:
            decoded = verifier.verify_and_decode_notification(signed)
            notification = _unverified_claims(signed)
            signed_transaction = (notification.get("data") or {}).get("signedTransactionInfo")
            transaction = self._transaction(signed_transaction) if signed_transaction else None
        except VerificationException as exc:
            if exc.status == VerificationStatus.RETRYABLE_VERIFICATION_FAILURE:
                raise PaymentUnavailable("Apple's certificate status could not be checked") from exc
            problem = exc.status.name
            raise WebhookSignatureInvalid(f"the notification did not verify ({problem})") from exc
        if not decoded.notificationUUID or not decoded.rawNotificationType:
            raise WebhookPayloadInvalid("the notification has no notificationUUID or type")
        return VerifiedPaymentEvent(
            provider=self.name,
            event_id=decoded.notificationUUID,
            event_type=decoded.rawNotificationType,
            payment_ref=(transaction or {}).get("transactionId"),
            payload={"notification": notification, "transaction": transaction},
        )

    def read_facts(
        self,
        event_type: str,
        payload: dict[str, Any],
        store_record: dict[str, Any] | None = None,
    ) -> PaymentFacts | None:
        """ONE_TIME_CHARGE pays, REFUND and REVOKE take back, REFUND_REVERSED restores (the
        latest by Apple's signing time wins); CONSUMPTION_REQUEST only names the purchase."""
        transaction = payload.get("transaction")
        if not transaction:
            return None
        signed_at = _millis(payload["notification"].get("signedDate"))
        paid = transaction_facts(transaction, signed_at)
        if event_type == PAID:
            return PaymentFacts(
                payment_id=paid.payment_id,
                product_id=paid.product_id,
                buyer_id=paid.buyer_id,
                store_paid=True,
            )
        if event_type in (REFUND, REVOKE, REFUND_REVERSED):
            share = 0 if event_type == REFUND_REVERSED else _refunded_share(transaction)
            return PaymentFacts(
                payment_id=paid.payment_id,
                product_id=paid.product_id,
                buyer_id=paid.buyer_id,
                store_paid=True,
                refunded_share=share,
                reported_at=signed_at,
            )
        if event_type == CONSUMPTION_REQUEST:
            return PaymentFacts(payment_id=paid.payment_id)
        return None  # REFUND_DECLINED changes nothing; other types are not about coin packs

    def answer_event(
        self, event_type: str, payload: dict[str, Any], purchase: CoinPurchase | None
    ) -> None:
        """Answer a CONSUMPTION_REQUEST with the delivery status, where configured."""
        if event_type != CONSUMPTION_REQUEST:
            return
        transaction_id = (payload.get("transaction") or {}).get("transactionId")
        client = self._api_client()
        if client is None or not self._consumption_consent or not transaction_id:
            log.info(
                "consumption request not answered (App Store Server API or consent not set)",
                extra={"transaction_id": transaction_id},
            )
            return
        delivered = purchase is not None and purchase.coins_credited > 0
        request = ConsumptionRequest(
            customerConsented=True,
            sampleContentProvided=False,
            deliveryStatus=(
                DeliveryStatus.DELIVERED if delivered else DeliveryStatus.UNDELIVERED_OTHER
            ),
        )
        try:
            client.send_consumption_information(transaction_id, request)
        except APIException as exc:
            if exc.http_status_code >= 500 or exc.http_status_code == 429:
                raise PaymentUnavailable(f"App Store Server API: {exc}") from exc
            # A refusal is not mended by retrying: it is logged for a human.
            log.error(
                "consumption information refused",
                extra={"transaction_id": transaction_id, "status": exc.http_status_code},
            )
        except OSError as exc:  # requests' connection errors are OSErrors
            raise PaymentUnavailable(f"App Store Server API unreachable: {exc}") from exc

    def _api_client(self) -> AppStoreServerAPIClient | None:
        configured = self._api_key_id and self._api_issuer_id and self._api_private_key
        usable = self._environment in (Environment.PRODUCTION, Environment.SANDBOX)
        if not (configured and usable and self._bundle_id):
            return None
        return _ApiClient(
            self._api_url,
            signing_key=self._api_private_key,
            key_id=self._api_key_id,
            issuer_id=self._api_issuer_id,
            bundle_id=self._bundle_id,
            environment=self._environment,
        )
