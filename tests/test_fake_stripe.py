"""The Stripe fakes behave like Stripe for the official `stripe` client and webhook verifier."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import stripe

from tests.fakes import stripe_events
from tests.fakes.stripe_server import FakeStripe, decode_params

API_KEY = "sk_test_fake"
WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    """A running FakeStripe for one test."""
    with FakeStripe(API_KEY) as server:
        yield server


def client_for(fake: FakeStripe, api_key: str = API_KEY) -> stripe.StripeClient:
    """The official client pointed at the fake."""
    return stripe.StripeClient(
        api_key, base_addresses={"api": fake.base_url}, max_network_retries=0
    )


def session_params(**overrides) -> dict:
    """Checkout-session create params like the app sends, with overrides (None removes a key)."""
    params = {
        "mode": "payment",
        "success_url": "https://app.test/paid?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.test/cancelled",
        "client_reference_id": "purchase-42",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 500,
                    "product_data": {"name": "Gift"},
                },
            },
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 250,
                    "product_data": {"name": "Tip"},
                },
            },
        ],
        "metadata": {"purchase_id": "42"},
        "payment_intent_data": {"metadata": {"user_id": "7"}},
    }
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def raw_get(fake: FakeStripe, path: str, authorization: str | None) -> tuple[int, dict]:
    """GET `path` with urllib and an optional Authorization header; returns (status, JSON)."""
    request = urllib.request.Request(fake.base_url + path)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_create_returns_a_checkout_session_and_records_decoded_params(fake):
    session = client_for(fake).v1.checkout.sessions.create(params=session_params())

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.url == f"https://checkout.stripe.com/c/pay/{session.id}"
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert session.amount_total == 2 * 500 + 250
    assert session.currency == "usd"
    assert session.metadata.to_dict() == {"purchase_id": "42"}
    assert session.client_reference_id == "purchase-42"
    assert session.cancel_url == "https://app.test/cancelled"
    assert session.payment_intent is None
    assert session.livemode is False
    assert abs(session.created - time.time()) < 60
    assert fake.sessions[session.id]["amount_total"] == 1250

    (call,) = fake.calls
    assert (call["method"], call["path"]) == ("POST", "/v1/checkout/sessions")
    assert call["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert call["headers"]["Idempotency-Key"]
    params = call["params"]
    assert params["metadata"] == {"purchase_id": "42"}
    assert params["payment_intent_data"] == {"metadata": {"user_id": "7"}}
    assert params["line_items"][0] == {
        "quantity": "2",
        "price_data": {"currency": "usd", "unit_amount": "500", "product_data": {"name": "Gift"}},
    }
    assert params["line_items"][1]["price_data"]["product_data"]["name"] == "Tip"


def test_metadata_is_optional_and_empty_values_unset_keys(fake):
    client = client_for(fake)
    plain = client.v1.checkout.sessions.create(params=session_params(metadata=None))
    blanked = client.v1.checkout.sessions.create(
        params=session_params(metadata={"a": "", "b": "1"})
    )
    assert plain.metadata.to_dict() == {}
    assert plain.client_reference_id == "purchase-42"
    assert blanked.metadata.to_dict() == {"b": "1"}


def test_a_registered_price_can_be_used_instead_of_price_data(fake):
    price_id = fake.add_price(1200, "eur")
    line_items = [{"price": price_id, "quantity": 3}]
    session = client_for(fake).v1.checkout.sessions.create(
        params=session_params(line_items=line_items)
    )
    assert (session.amount_total, session.currency) == (3600, "eur")

    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client_for(fake).v1.checkout.sessions.create(
            params=session_params(line_items=[{"price": "price_nope", "quantity": 1}])
        )
    assert excinfo.value.code == "resource_missing"
    assert excinfo.value.param == "line_items[0][price]"


def test_wrong_api_key_raises_authentication_error(fake):
    with pytest.raises(stripe.AuthenticationError) as excinfo:
        client_for(fake, "sk_test_wrongkey9876").v1.checkout.sessions.create(
            params=session_params()
        )
    assert excinfo.value.http_status == 401
    assert excinfo.value.user_message == "Invalid API Key provided: sk_test_****9876"
    assert fake.sessions == {}
    assert len(fake.calls) == 1


def test_basic_auth_with_the_key_as_username_is_accepted_and_no_auth_is_401(fake):
    session = client_for(fake).v1.checkout.sessions.create(params=session_params())
    path = f"/v1/checkout/sessions/{session.id}"
    basic = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    wrong_basic = "Basic " + base64.b64encode(b"sk_test_other:").decode()

    assert raw_get(fake, path, basic) == (200, fake.sessions[session.id])
    status, body = raw_get(fake, path, None)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("You did not provide an API key.")
    status, body = raw_get(fake, path, wrong_basic)
    assert (status, body["error"]["message"]) == (401, "Invalid API Key provided: sk_test_****ther")


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"success_url": None}, "success_url"),
        ({"mode": None}, "mode"),
        ({"line_items": None}, "line_items"),
        (
            {"line_items": [{"price_data": {"currency": "usd", "unit_amount": 1}}]},
            "line_items[0][price_data][product_data]",
        ),
        (
            {
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {"unit_amount": 1, "product_data": {"name": "x"}},
                    }
                ]
            },
            "line_items[0][price_data][currency]",
        ),
        (
            {
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {"currency": "usd", "product_data": {"name": "x"}},
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1,
                            "product_data": {"description": "no name"},
                        }
                    }
                ]
            },
            "line_items[0][price_data][product_data][name]",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 1,
                            "product_data": {"name": "x"},
                        }
                    }
                ]
            },
            "line_items[0][quantity]",
        ),
    ],
)
def test_a_missing_required_param_raises_invalid_request_error(fake, overrides, param):
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client_for(fake).v1.checkout.sessions.create(params=session_params(**overrides))
    error = excinfo.value
    assert (error.http_status, error.code, error.param) == (400, "parameter_missing", param)
    assert error.user_message == f"Missing required param: {param}."
    assert error.error.type == "invalid_request_error"
    assert fake.sessions == {}


def test_invalid_values_and_unknown_params_are_rejected_like_stripe(fake):
    sessions = client_for(fake).v1.checkout.sessions
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        sessions.create(params=session_params(succes_url="https://typo.test"))
    assert (excinfo.value.code, excinfo.value.param) == ("parameter_unknown", "succes_url")

    bad_amount = [
        {"quantity": 1, "price_data": {"currency": "usd", "unit_amount": "5.00", "product": "p"}}
    ]
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        sessions.create(params=session_params(line_items=bad_amount))
    assert excinfo.value.code == "parameter_invalid_integer"
    assert excinfo.value.param == "line_items[0][price_data][unit_amount]"

    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        sessions.create(params=session_params(success_url=""))
    assert (excinfo.value.code, excinfo.value.param) == ("parameter_invalid_empty", "success_url")


def test_retrieve_returns_the_stored_session_or_404(fake):
    client = client_for(fake)
    created = client.v1.checkout.sessions.create(params=session_params())

    fetched = client.v1.checkout.sessions.retrieve(created.id)
    assert fetched.to_dict() == created.to_dict()
    assert fake.calls[-1]["method"] == "GET"
    assert fake.calls[-1]["path"] == f"/v1/checkout/sessions/{created.id}"

    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client.v1.checkout.sessions.retrieve("cs_test_missing")
    assert (excinfo.value.http_status, excinfo.value.code) == (404, "resource_missing")
    assert excinfo.value.user_message == "No such checkout.session: 'cs_test_missing'"


def test_unknown_paths_answer_404_with_a_stripe_error(fake):
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client_for(fake).raw_request("get", "/v1/not_a_thing")
    assert excinfo.value.http_status == 404
    assert excinfo.value.user_message.startswith("Unrecognized request URL (GET: /v1/not_a_thing)")


def test_the_same_idempotency_key_replays_and_rejects_changed_params(fake):
    sessions = client_for(fake).v1.checkout.sessions
    first = sessions.create(params=session_params(), options={"idempotency_key": "k1"})
    again = sessions.create(params=session_params(), options={"idempotency_key": "k1"})
    other = sessions.create(params=session_params(), options={"idempotency_key": "k2"})

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert other.id != first.id
    assert len(fake.sessions) == 2

    with pytest.raises(stripe.IdempotencyError) as excinfo:
        sessions.create(
            params=session_params(client_reference_id="other"), options={"idempotency_key": "k1"}
        )
    assert excinfo.value.http_status == 400
    assert excinfo.value.error.type == "idempotency_error"
    assert len(fake.sessions) == 2


def test_complete_session_marks_it_paid(fake):
    client = client_for(fake)
    created = client.v1.checkout.sessions.create(params=session_params())

    completed = fake.complete_session(created.id, payment_intent="pi_test_1")
    assert completed["status"] == "complete"
    assert completed["payment_status"] == "paid"
    assert completed["payment_intent"] == "pi_test_1"
    fetched = client.v1.checkout.sessions.retrieve(created.id)
    assert (fetched.status, fetched.payment_status, fetched.payment_intent) == (
        "complete",
        "paid",
        "pi_test_1",
    )
    other = client.v1.checkout.sessions.create(params=session_params())
    assert fake.complete_session(other.id)["payment_intent"].startswith("pi_")


def test_decode_params_nests_bracket_keys_and_numeric_indexes_become_lists():
    encoded = (
        "metadata[purchase_id]=p1&line_items[0][price_data][unit_amount]=500"
        "&line_items[0][quantity]=2&line_items[1][price]=price_1"
        "&payment_intent_data[metadata][user_id]=u%201&expand[0]=payment_intent&metadata[7]=x"
    )
    assert decode_params(encoded) == {
        "metadata": {"purchase_id": "p1", "7": "x"},
        "line_items": [
            {"price_data": {"unit_amount": "500"}, "quantity": "2"},
            {"price": "price_1"},
        ],
        "payment_intent_data": {"metadata": {"user_id": "u 1"}},
        "expand": ["payment_intent"],
    }


def test_signed_delivery_verifies_with_the_official_verifier():
    session = stripe_events.checkout_session(
        "cs_test_1", amount_total=1250, payment_intent="pi_1", metadata={"purchase_id": "42"}
    )
    evt = stripe_events.event("checkout.session.completed", session)
    body, headers = stripe_events.signed_delivery(evt, WEBHOOK_SECRET)
    header = headers["Stripe-Signature"]

    assert headers["Content-Type"] == "application/json"
    assert stripe.WebhookSignature.verify_header(body.decode(), header, WEBHOOK_SECRET, 300)
    parsed = stripe.Webhook.construct_event(body, header, WEBHOOK_SECRET)
    assert parsed.id.startswith("evt_")
    assert parsed.type == "checkout.session.completed"
    assert parsed.data.object.id == "cs_test_1"
    assert parsed.data.object.metadata["purchase_id"] == "42"
    assert header == stripe.WebhookSignature.generate_signature_header(
        body.decode(), WEBHOOK_SECRET, int(header.split(",")[0][2:])
    )


def test_tampered_stale_or_wrongly_signed_deliveries_are_rejected():
    evt = stripe_events.event(
        "charge.refunded", stripe_events.charge("ch_1", payment_intent="pi_1", amount=500)
    )
    body, headers = stripe_events.signed_delivery(evt, WEBHOOK_SECRET)
    tampered = body.replace(b'"amount":500', b'"amount":501')
    assert tampered != body
    _, stale = stripe_events.signed_delivery(evt, WEBHOOK_SECRET, int(time.time()) - 301)
    _, forged = stripe_events.signed_delivery(evt, "whsec_wrong")

    cases = [
        (tampered, headers["Stripe-Signature"]),
        (body, stale["Stripe-Signature"]),
        (body, forged["Stripe-Signature"]),
    ]
    for payload, header in cases:
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.WebhookSignature.verify_header(payload.decode(), header, WEBHOOK_SECRET, 300)


def test_object_builders_use_stripes_field_names():
    charge = stripe_events.charge("ch_1", payment_intent="pi_1", amount=500, amount_refunded=200)
    assert charge["object"] == "charge"
    assert charge["refunded"] is False
    assert stripe_events.charge("ch_2", payment_intent=None, amount=500, amount_refunded=500)[
        "refunded"
    ]
    dispute = stripe_events.dispute("dp_1", charge="ch_1", payment_intent="pi_1", amount=500)
    assert (dispute["object"], dispute["charge"], dispute["status"]) == (
        "dispute",
        "ch_1",
        "needs_response",
    )
    evt = stripe_events.event("charge.dispute.created", dispute, event_id="evt_1", created=10)
    assert evt == {
        "id": "evt_1",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 10,
        "data": {"object": dispute},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": "charge.dispute.created",
    }
    assert json.loads(stripe_events.encode(evt)) == evt
    assert b" " not in stripe_events.encode({"a": [1, 2]})
