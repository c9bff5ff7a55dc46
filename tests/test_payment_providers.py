"""The PaymentProvider contract: the registry, and the Stripe adapter against the fakes."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from mylivelinks.models.payments import DisputeState
from mylivelinks.payments import (
    REGISTRY,
    create_payment_provider,
    payment_provider,
    provider_for_platform,
)
from mylivelinks.payments.base import (
    PaymentNotConfigured,
    PaymentNotSupported,
    PaymentProvider,
    PaymentRejected,
    PaymentUnavailable,
    VerifiedPaymentEvent,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from mylivelinks.payments.facts import PaymentFacts
from mylivelinks.payments.packs import CoinPack
from mylivelinks.payments.stripe import StripeProvider
from tests.fakes import stripe_events
from tests.money import STRIPE_KEY, WEBHOOK_SECRET

PACK = CoinPack("web_5", "web", 350, 500)


def stripe_adapter(
    *, api_key: str | None = STRIPE_KEY, secret: str | None = WEBHOOK_SECRET, api_base: str
) -> StripeProvider:
    """A Stripe adapter built directly, without an app."""
    return StripeProvider(
        api_key=api_key,
        webhook_secret=secret,
        api_base=api_base,
        success_url="https://app.test/paid",
        cancel_url="https://app.test/cancelled",
    )


def unused_port_url() -> str:
    """The URL of a local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class InAppStore(PaymentProvider):
    """A store without a checkout (as Apple's and Google's in-app purchases are)."""

    name = "in_app_test"
    has_checkout = False

    @classmethod
    def from_app(cls, app) -> InAppStore:
        return cls()

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedPaymentEvent:
        raise WebhookSignatureInvalid("never signed")

    def read_facts(self, event_type: str, payload: dict[str, Any]) -> PaymentFacts | None:
        return None


def test_the_registry_resolves_stripe_from_the_app_config(pay_app):
    adapter = create_payment_provider("stripe", pay_app)
    assert isinstance(adapter, StripeProvider) and isinstance(adapter, PaymentProvider)
    assert (adapter.name, adapter.has_checkout) == ("stripe", True)
    with pay_app.app_context():
        assert payment_provider("stripe") is payment_provider("stripe")  # one per app
        assert provider_for_platform("web") is payment_provider("stripe")


def test_every_registered_adapter_is_named_as_registered(pay_app):
    for name in REGISTRY:
        assert create_payment_provider(name, pay_app).name == name


def test_an_unknown_provider_fails_clearly(pay_app):
    with pytest.raises(ValueError, match=r"unknown payment provider 'paypal'.*'stripe'"):
        create_payment_provider("paypal", pay_app)
    with pay_app.app_context(), pytest.raises(ValueError, match="paypal"):
        payment_provider("paypal")


def test_a_platform_without_a_store_and_a_store_without_checkout_are_not_supported(pay_app):
    with pay_app.app_context(), pytest.raises(PaymentNotSupported):
        provider_for_platform("windows")
    with pytest.raises(PaymentNotSupported):
        InAppStore().create_checkout(str(uuid.uuid4()), str(uuid.uuid4()), PACK)
    with pay_app.app_context(), pytest.raises(PaymentNotSupported):
        payment_provider("stripe").verify_purchase({"purchase_token": "x"})


def test_the_mobile_platforms_are_sold_by_the_app_store_and_google_play(pay_app):
    with pay_app.app_context():
        assert provider_for_platform("ios").name == "apple"
        assert provider_for_platform("android").name == "google"
        assert not provider_for_platform("ios").has_checkout
        assert provider_for_platform("android").finishes_purchases


def test_stripe_verifies_a_webhook_signed_like_stripe_and_reads_its_facts(fake_stripe):
    adapter = stripe_adapter(api_base=fake_stripe.base_url)
    charge = stripe_events.charge(
        "ch_1",
        payment_intent="pi_1",
        amount=500,
        amount_refunded=500,
        metadata={"purchase_id": "p-1"},
    )
    evt = stripe_events.event("charge.refunded", charge)
    body, headers = stripe_events.signed_delivery(evt, WEBHOOK_SECRET)
    lower_case = {key.lower(): value for key, value in headers.items()}
    for delivered in (headers, lower_case):
        event = adapter.verify_webhook(body, delivered)
        assert (event.provider, event.event_id, event.event_type, event.payment_ref) == (
            "stripe",
            evt["id"],
            "charge.refunded",
            "pi_1",
        )
        assert event.payload == evt
    assert adapter.read_facts(event.event_type, event.payload) == PaymentFacts(
        purchase_id="p-1", payment_id="pi_1", refunded_cents=500
    )


def test_stripe_facts_of_a_lost_dispute_and_of_an_unrelated_event(fake_stripe):
    adapter = stripe_adapter(api_base=fake_stripe.base_url)
    lost = stripe_events.dispute(
        "dp_1", charge="ch_1", payment_intent="pi_1", amount=500, status="lost"
    )
    facts = adapter.read_facts("charge.dispute.closed", stripe_events.event("x", lost))
    assert facts == PaymentFacts(payment_id="pi_1", dispute=DisputeState.LOST)
    customer = stripe_events.event("customer.created", {"id": "cus_1", "object": "customer"})
    assert adapter.read_facts("customer.created", customer) is None


@pytest.mark.parametrize("attack", ["wrong-secret", "byte-changed", "too-old", "missing"])
def test_stripe_refuses_a_bad_signature_with_the_neutral_error(fake_stripe, attack):
    adapter = stripe_adapter(api_base=fake_stripe.base_url)
    evt = stripe_events.event("customer.created", {"id": "cus_1", "object": "customer"})
    secret = "whsec_not_ours" if attack == "wrong-secret" else WEBHOOK_SECRET
    timestamp = 1_000_000 if attack == "too-old" else None
    body, headers = stripe_events.signed_delivery(evt, secret, timestamp)
    if attack == "byte-changed":
        body = body.replace(b"cus_1", b"cus_2")
    if attack == "missing":
        headers.pop("Stripe-Signature")
    with pytest.raises(WebhookSignatureInvalid):
        adapter.verify_webhook(body, headers)


def test_a_signed_body_that_is_not_a_stripe_event_is_refused(fake_stripe):
    adapter = stripe_adapter(api_base=fake_stripe.base_url)
    body = b'{"id": "evt_1", "type": "charge.refunded"}'
    headers = {"Stripe-Signature": stripe_events.sign(body, WEBHOOK_SECRET)}
    with pytest.raises(WebhookPayloadInvalid):
        adapter.verify_webhook(body, headers)


def test_stripe_without_its_settings_is_not_configured(fake_stripe):
    adapter = stripe_adapter(api_key=None, secret=None, api_base=fake_stripe.base_url)
    with pytest.raises(PaymentNotConfigured):
        adapter.create_checkout(str(uuid.uuid4()), str(uuid.uuid4()), PACK)
    body, headers = stripe_events.signed_delivery(
        stripe_events.event("customer.created", {"id": "cus_1"}), WEBHOOK_SECRET
    )
    with pytest.raises(PaymentNotConfigured):
        adapter.verify_webhook(body, headers)


def test_stripe_checkout_opens_a_session_tagged_with_the_purchase(fake_stripe):
    purchase_id, buyer_id = str(uuid.uuid4()), str(uuid.uuid4())
    checkout = stripe_adapter(api_base=fake_stripe.base_url).create_checkout(
        purchase_id, buyer_id, PACK
    )
    session = fake_stripe.sessions[checkout.session_id]
    assert checkout.url == session["url"]
    tags = {"purchase_id": purchase_id, "user_id": buyer_id, "pack_id": "web_5"}
    assert session["metadata"] == tags
    assert session["amount_total"] == 500


def test_stripe_refusals_and_outages_come_out_as_neutral_errors(fake_stripe):
    wrong_key = stripe_adapter(api_key="sk_test_wrong", api_base=fake_stripe.base_url)
    with pytest.raises(PaymentRejected):
        wrong_key.create_checkout(str(uuid.uuid4()), str(uuid.uuid4()), PACK)
    unreachable = stripe_adapter(api_base=unused_port_url())
    with pytest.raises(PaymentUnavailable):
        unreachable.create_checkout(str(uuid.uuid4()), str(uuid.uuid4()), PACK)
