"""Stripe: Checkout Sessions, webhook verification, and events turned into PaymentFacts."""

from __future__ import annotations

from typing import Any

import stripe
from flask import current_app

from mylivelinks.payments.facts import PaymentFacts
from mylivelinks.payments.packs import CoinPack

PROVIDER = "stripe"
SIGNATURE_TOLERANCE_SECONDS = 300


class StripeNotConfigured(RuntimeError):
    """STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET is not set."""


def _client() -> stripe.StripeClient:
    client = current_app.extensions.get("stripe_client")
    if client is None:
        api_key = current_app.config.get("STRIPE_SECRET_KEY")
        if not api_key:
            raise StripeNotConfigured("STRIPE_SECRET_KEY is not set")
        client = stripe.StripeClient(
            api_key,
            base_addresses={"api": current_app.config["STRIPE_API_BASE"]},
            max_network_retries=2,
        )
        current_app.extensions["stripe_client"] = client
    return client


def create_checkout_session(
    purchase_id: str, user_id: str, pack: CoinPack
) -> stripe.checkout.Session:
    """A Checkout Session (mode payment) selling `pack`, tagged with the purchase and user."""
    metadata = {"purchase_id": purchase_id, "user_id": user_id, "pack_id": pack.id}
    params: dict[str, Any] = {
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
        "success_url": current_app.config["CHECKOUT_SUCCESS_URL"],
        "cancel_url": current_app.config["CHECKOUT_CANCEL_URL"],
        "client_reference_id": purchase_id,
        "metadata": metadata,
        # Copied onto the PaymentIntent and its charges, so refund events name the purchase.
        "payment_intent_data": {"metadata": metadata},
    }
    return _client().v1.checkout.sessions.create(
        params=params, options={"idempotency_key": f"checkout-{purchase_id}"}
    )


def verify_webhook(payload: bytes, signature_header: str | None) -> None:
    """Raise stripe.SignatureVerificationError unless Stripe signed `payload` recently."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise StripeNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise stripe.SignatureVerificationError("payload is not UTF-8", signature_header) from None
    stripe.WebhookSignature.verify_header(
        text, signature_header, secret, SIGNATURE_TOLERANCE_SECONDS
    )


def payment_ref(event: dict[str, Any]) -> str | None:
    """The PaymentIntent id an event is about, when its object names one."""
    value = (event.get("data") or {}).get("object", {}).get("payment_intent")
    return value if isinstance(value, str) else None


def facts(event_type: str, event: dict[str, Any]) -> PaymentFacts | None:
    """The facts of a Stripe event, or None for event types that do not concern purchases."""
    obj = event["data"]["object"]
    metadata = obj.get("metadata") or {}
    purchase_id = metadata.get("purchase_id")
    payment_id = obj.get("payment_intent")
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
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
        return PaymentFacts(payment_id=payment_id, dispute="open")
    if event_type == "charge.dispute.closed":
        return PaymentFacts(
            payment_id=payment_id, dispute="lost" if obj.get("status") == "lost" else "won"
        )
    if event_type == "charge.dispute.funds_reinstated":
        return PaymentFacts(payment_id=payment_id, dispute="won")
    return None
