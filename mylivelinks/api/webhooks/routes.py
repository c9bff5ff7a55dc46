"""Provider webhooks: verify, store raw, acknowledge; a job applies them."""

from __future__ import annotations

import json

import marshmallow as ma
import stripe
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from mylivelinks.api.errors import ErrorSchema
from mylivelinks.jobs.payments import enqueue_payment_event
from mylivelinks.payments import stripe as stripe_provider
from mylivelinks.payments.events import store_event
from mylivelinks.transaction import after_commit

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Provider webhooks")

RAW_EVENT = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object"}}},
    "description": "The provider's event exactly as it sent it (the signature covers the bytes).",
}


class WebhookAckSchema(ma.Schema):
    """Acknowledgement of a stored event."""

    received = ma.fields.Boolean(dump_only=True)
    duplicate = ma.fields.Boolean(
        dump_only=True, metadata={"description": "true when this event was already stored"}
    )


def _is_event(event) -> bool:
    return (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance((event.get("data") or {}).get("object"), dict)
    )


@blp.route("/stripe")
class StripeWebhook(MethodView):
    @blp.doc(requestBody=RAW_EVENT)
    @blp.response(200, WebhookAckSchema)
    @blp.alt_response(400, schema=ErrorSchema, description="Bad signature or payload")
    @blp.alt_response(503, schema=ErrorSchema, description="Webhook secret not configured")
    def post(self):
        """Receive a Stripe event (signed with the endpoint's secret, at most 300 s old)"""
        payload = request.get_data()
        try:
            stripe_provider.verify_webhook(payload, request.headers.get("Stripe-Signature"))
        except stripe.SignatureVerificationError:
            abort(400, message="The Stripe signature is missing, wrong or too old.")
        except stripe_provider.StripeNotConfigured:
            abort(503, message="Stripe webhooks are not configured on this server.")
        try:
            event = json.loads(payload)
        except ValueError:
            event = None
        if not _is_event(event):
            abort(400, message="The payload is not a Stripe event.")
        event_id, event_type = event["id"], event["type"]
        stored = store_event(
            stripe_provider.PROVIDER,
            event_id,
            event_type,
            stripe_provider.payment_ref(event),
            event,
            payload,
        )
        if stored is not None:
            after_commit(lambda: enqueue_payment_event(stored))
        return {"received": True, "duplicate": stored is None}
