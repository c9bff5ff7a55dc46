"""Stripe v1 webhook events: object builders, the event envelope, and `Stripe-Signature` signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from typing import Any

API_VERSION = "2024-06-20"
_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """A random Stripe-style object id such as `evt_1a2B...` (prefix plus 24 alphanumerics)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` value `t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">`."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """A v1 snapshot event envelope wrapping `obj` as `data.object`."""
    return {
        "id": event_id or new_id("evt_"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def encode(evt: dict[str, Any]) -> bytes:
    """The event as a compact UTF-8 JSON body."""
    return json.dumps(evt, separators=(",", ":")).encode()


def signed_delivery(
    evt: dict[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The (body, headers) of a webhook delivery of `evt`, signed with `secret`."""
    body = encode(evt)
    headers = {
        "Content-Type": "application/json",
        "Stripe-Signature": sign(body, secret, timestamp),
    }
    return body, headers


def checkout_session(
    session_id: str,
    *,
    amount_total: int,
    currency: str = "usd",
    payment_status: str = "paid",
    payment_intent: str | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    """A `checkout.session` object in payment mode, complete unless `payment_status` is unpaid."""
    created = int(time.time())
    complete = payment_status != "unpaid"
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": None,
        "client_reference_id": None,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_details": None,
        "customer_email": None,
        "expires_at": created + 24 * 3600,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "mode": "payment",
        "payment_intent": payment_intent,
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": "complete" if complete else "open",
        "success_url": None,
        "ui_mode": "hosted",
        "url": None if complete else f"https://checkout.stripe.com/c/pay/{session_id}",
    }


def charge(
    charge_id: str,
    *,
    payment_intent: str | None,
    amount: int,
    amount_refunded: int = 0,
    currency: str = "usd",
    metadata: dict[str, str] | None = None,
    refunded: bool | None = None,
) -> dict[str, Any]:
    """A succeeded, captured `charge` object; `refunded` defaults to a full refund."""
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "balance_transaction": None,
        "captured": True,
        "created": int(time.time()),
        "currency": currency,
        "customer": None,
        "disputed": False,
        "livemode": False,
        "metadata": dict(metadata or {}),
        "paid": True,
        "payment_intent": payment_intent,
        "refunded": amount_refunded >= amount if refunded is None else refunded,
        "status": "succeeded",
    }


def dispute(
    dispute_id: str,
    *,
    charge: str,
    payment_intent: str | None,
    amount: int,
    currency: str = "usd",
    status: str = "needs_response",
) -> dict[str, Any]:
    """A `dispute` object against `charge`."""
    created = int(time.time())
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge,
        "created": created,
        "currency": currency,
        "evidence_details": {
            "due_by": created + 7 * 24 * 3600,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": "general",
        "status": status,
    }
