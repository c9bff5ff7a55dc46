"""Stripe: Checkout Sessions, webhook verification, and events turned into PaymentFacts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import stripe
from flask import Flask
from stripe.params.checkout import SessionCreateParams

from mylivelinks.models.payments import DisputeState
from mylivelinks.payments.base import (
    Checkout,
    PaymentNotConfigured,
    PaymentProvider,
    PaymentRejected,
    PaymentUnavailable,
    VerifiedPaymentEvent,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
    header,
)
from mylivelinks.payments.facts import PaymentFacts
from mylivelinks.payments.packs import CoinPack

SIGNATURE_TOLERANCE_SECONDS = 300
# Failures where the same request may succeed later; every other StripeError is a refusal.
_TRANSIENT_ERRORS = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)
_PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def _is_event(event: object) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance((event.get("data") or {}).get("object"), dict)
    )


def _payment_ref(event: dict[str, Any]) -> str | None:
    value = event["data"]["object"].get("payment_intent")
    return value if isinstance(value, str) else None


class StripeProvider(PaymentProvider):
    """Web purchases through Stripe Checkout, confirmed by Stripe's signed webhooks."""

    name = "stripe"
    has_checkout = True

    def __init__(
        self,
        *,
        api_key: str | None,
        webhook_secret: str | None,
        api_base: str,
        success_url: str,
        cancel_url: str,
    ) -> None:
        self._client = (
            stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=2)
            if api_key
            else None
        )
        self._webhook_secret = webhook_secret
        self._success_url = success_url
        self._cancel_url = cancel_url

    @classmethod
    def from_app(cls, app: Flask) -> StripeProvider:
        """Configure from the app (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE)."""
        return cls(
            api_key=app.config.get("STRIPE_SECRET_KEY"),
            webhook_secret=app.config.get("STRIPE_WEBHOOK_SECRET"),
            api_base=app.config["STRIPE_API_BASE"],
            success_url=app.config["CHECKOUT_SUCCESS_URL"],
            cancel_url=app.config["CHECKOUT_CANCEL_URL"],
        )

    def create_checkout(self, purchase_id: str, buyer_id: str, pack: CoinPack) -> Checkout:
        """A Checkout Session (mode payment) selling `pack`, tagged with the purchase and user."""
        if self._client is None:
            raise PaymentNotConfigured("STRIPE_SECRET_KEY is not set")
        metadata = {"purchase_id": purchase_id, "user_id": buyer_id, "pack_id": pack.id}
        params: SessionCreateParams = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": pack.currency,
                        "unit_amount": pack.price_cents,
                        "product_data": {"name": f"MyLiveLinks {pack.label}"},
                    },
                }
            ],
            "success_url": self._success_url,
            "cancel_url": self._cancel_url,
            "client_reference_id": purchase_id,
            "metadata": metadata,
            # Copied onto the PaymentIntent and its charges, so refund events name the purchase.
            "payment_intent_data": {"metadata": metadata},
        }
        try:
            session = self._client.v1.checkout.sessions.create(
                params=params,
                options={"idempotency_key": f"checkout-{purchase_id}"},
            )
        except _TRANSIENT_ERRORS as exc:
            raise PaymentUnavailable(exc.user_message or str(exc)) from exc
        except stripe.StripeError as exc:
            raise PaymentRejected(exc.user_message or str(exc)) from exc
        if not session.url:
            raise PaymentRejected(f"checkout session {session.id} has no URL")
        return Checkout(session_id=session.id, url=session.url)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedPaymentEvent:
        """Check `Stripe-Signature` (HMAC of the raw body, at most 300 s old), then read it."""
        if not self._webhook_secret:
            raise PaymentNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookSignatureInvalid("the payload is not UTF-8") from None
        try:
            stripe.WebhookSignature.verify_header(
                text,
                header(headers, "Stripe-Signature") or "",
                self._webhook_secret,
                SIGNATURE_TOLERANCE_SECONDS,
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookSignatureInvalid(str(exc)) from None
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not _is_event(event):
            raise WebhookPayloadInvalid("the payload is not a Stripe event")
        return VerifiedPaymentEvent(
            provider=self.name,
            event_id=event["id"],
            event_type=event["type"],
            payment_ref=_payment_ref(event),
            payload=event,
        )

    def read_facts(
        self,
        event_type: str,
        payload: dict[str, Any],
        store_record: dict[str, Any] | None = None,
    ) -> PaymentFacts | None:
        """The facts of a Stripe event, or None for event types that do not concern purchases."""
        obj = payload["data"]["object"]
        metadata = obj.get("metadata") or {}
        purchase_id = metadata.get("purchase_id")
        payment_id = obj.get("payment_intent")
        if event_type in _PAID_EVENTS:
            paid = obj.get("payment_status") == "paid"
            return PaymentFacts(
                purchase_id=purchase_id,
                payment_id=payment_id,
                paid_cents=obj.get("amount_total") if paid else None,
                paid_currency=obj.get("currency") if paid else None,
            )
        if event_type == "charge.refunded":
            return PaymentFacts(
                purchase_id=purchase_id,
                payment_id=payment_id,
                refunded_cents=int(obj.get("amount_refunded") or 0),
            )
        if event_type == "charge.dispute.created":
            return PaymentFacts(payment_id=payment_id, dispute=DisputeState.OPEN)
        if event_type == "charge.dispute.closed":
            lost = obj.get("status") == "lost"
            return PaymentFacts(
                payment_id=payment_id, dispute=DisputeState.LOST if lost else DisputeState.WON
            )
        if event_type == "charge.dispute.funds_reinstated":
            return PaymentFacts(payment_id=payment_id, dispute=DisputeState.WON)
        return None
