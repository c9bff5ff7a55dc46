"""Provider webhooks: verify, store raw, acknowledge; a job applies them."""

from __future__ import annotations

import marshmallow as ma
from flask import request
from flask.views import MethodView
from flask_smorest import abort

from mylivelinks.api.blueprint import Blueprint
from mylivelinks.api.errors import ErrorSchema
from mylivelinks.payments import payment_provider
from mylivelinks.payments.base import (
    PaymentNotConfigured,
    PaymentUnavailable,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from mylivelinks.payments.events import receive_event
from mylivelinks.providers import REGISTRY, media_provider
from mylivelinks.providers.base import WebhookNotConfigured, WebhookVerificationFailed
from mylivelinks.services.rooms.media_events import store_events

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Provider webhooks")

RAW_EVENT = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object"}}},
    "description": "The provider's event exactly as it sent it (the signature covers the bytes).",
}


STRIPE_SIGNATURE = {
    "in": "header",
    "name": "Stripe-Signature",
    "required": True,
    "schema": {"type": "string", "maxLength": 4096},
    "description": "`t=<unix time>,v1=<hex HMAC-SHA256 of t.body with the endpoint secret>`",
}
MEDIA_SIGNATURES = [
    {
        "in": "header",
        "name": name,
        "required": False,
        "schema": {"type": "string", "maxLength": 8192},
        "description": description,
    }
    for name, description in (
        ("Agora-Signature-V2", "Agora: hex HMAC-SHA256 of the body with the notification secret"),
        (
            "X-Twilio-Signature",
            "Twilio: base64 HMAC-SHA1 of the URL and form fields with the auth token",
        ),
    )
]


class WebhookAckSchema(ma.Schema):
    """Acknowledgement of a stored event."""

    received = ma.fields.Boolean(dump_only=True)
    duplicate = ma.fields.Boolean(
        dump_only=True, metadata={"description": "true when this event was already stored"}
    )


class MediaWebhookAckSchema(ma.Schema):
    """Acknowledgement of a verified media webhook."""

    received = ma.fields.Integer(
        dump_only=True, metadata={"description": "events of interest the webhook carried"}
    )
    stored = ma.fields.Integer(
        dump_only=True, metadata={"description": "of those, new ones (not seen before)"}
    )


@blp.route("/stripe")
class StripeWebhook(MethodView):
    @blp.doc(requestBody=RAW_EVENT, parameters=[STRIPE_SIGNATURE])
    @blp.response(200, WebhookAckSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Bad signature or payload")
    @blp.alt_response(503, schema=ErrorSchema, description="Webhook secret not configured")
    def post(self):
        """Receive a Stripe event (signed with the endpoint's secret, at most 300 s old)"""
        body = request.get_data()
        try:
            event = payment_provider("stripe").verify_webhook(body, dict(request.headers.items()))
        except WebhookSignatureInvalid:
            abort(400, message="The Stripe signature is missing, wrong or too old.")
        except WebhookPayloadInvalid:
            abort(400, message="The payload is not a Stripe event.")
        except PaymentNotConfigured:
            abort(503, message="Stripe webhooks are not configured on this server.")
        stored = receive_event(event, body)
        return {"received": True, "duplicate": stored is None}


def _receive_store_notification(provider: str, store: str) -> dict:
    body = request.get_data()
    try:
        event = payment_provider(provider).verify_webhook(body, dict(request.headers.items()))
    except WebhookSignatureInvalid as exc:
        abort(400, message=f"The {store} notification did not verify: {exc}")
    except WebhookPayloadInvalid as exc:
        abort(400, message=f"The payload is not a {store} notification: {exc}")
    except PaymentNotConfigured:
        abort(503, message=f"{store} notifications are not configured on this server.")
    except PaymentUnavailable:
        abort(503, message=f"{store} notifications cannot be verified right now.")
    stored = receive_event(event, body)
    return {"received": True, "duplicate": stored is None}


@blp.route("/apple")
class AppleWebhook(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"signedPayload": {"type": "string"}},
                        "required": ["signedPayload"],
                    }
                }
            },
            "description": "An App Store Server Notification V2 as Apple sends it.",
        }
    )
    @blp.response(200, WebhookAckSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Did not verify, or not for this app")
    @blp.alt_response(503, schema=ErrorSchema, description="Not configured, or cannot verify now")
    def post(self):
        """Receive an App Store Server Notification V2 (verified against Apple's root certificates)

        Stored once per `notificationUUID` and applied by a job: ONE_TIME_CHARGE credits
        (when the app did not report the purchase first), REFUND and REVOKE take the coins
        back (debt and frozen spending when they were spent), REFUND_REVERSED gives them back,
        CONSUMPTION_REQUEST is answered where configured.
        """
        return _receive_store_notification("apple", "App Store")


@blp.route("/google")
class GoogleWebhook(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A Pub/Sub push message carrying a Real-time developer "
            "notification, with the subscription's OIDC token as `Authorization: Bearer`.",
        }
    )
    @blp.response(200, WebhookAckSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Token or payload refused")
    @blp.alt_response(503, schema=ErrorSchema, description="Not configured, or cannot verify now")
    def post(self):
        """Receive a Google Play Real-time developer notification (Pub/Sub push, OIDC-signed)

        Stored once per Pub/Sub `messageId` and applied by a job that asks the Play Developer
        API: a purchased one-time product credits (when the app did not report it first), a
        voided purchase (refund or chargeback) takes the coins back.
        """
        return _receive_store_notification("google", "Google Play")


@blp.route(f"/media/<any({', '.join(sorted(REGISTRY))}):provider>")
class MediaWebhook(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/webhook+json": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            },
            "description": "The vendor's webhook exactly as sent (the signature covers it).",
        },
        parameters=MEDIA_SIGNATURES,
    )
    @blp.response(200, MediaWebhookAckSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Signature did not verify")
    @blp.alt_response(404, schema=ErrorSchema, description="Not the configured provider")
    @blp.alt_response(
        503, schema=ErrorSchema, description="The provider's webhook secret is not configured"
    )
    def post(self, provider):
        """Receive a LiveKit, Agora, Twilio (or local) webhook, verified with the vendor's scheme

        LiveKit signs with `Authorization`: a JWT signed with the API secret that carries the
        body's SHA-256; Agora and Twilio with the headers below.
        """
        adapter = media_provider()
        if provider != adapter.name:
            abort(404, message=f"This server does not use the {provider!r} media provider.")
        try:
            events = adapter.verify_webhook(request.get_data(), request.headers, request.url)
        except WebhookVerificationFailed as exc:
            abort(400, message=f"The webhook did not verify: {exc}")
        except WebhookNotConfigured as exc:
            abort(503, message=f"{provider} webhooks are not configured on this server: {exc}")
        stored = store_events(events)
        return {"received": len(events), "stored": len(stored)}
