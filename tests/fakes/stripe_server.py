"""A fake of Stripe's HTTP API on 127.0.0.1, spoken to by the official `stripe` client."""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import json
import re
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.http_fake import FakeHandler, FakeHttpServer
from tests.fakes.stripe_events import new_id
from tests.fakes.stripe_params import (
    _LINE_ITEM_PARAMS,
    _MODES,
    _NO_KEY_MESSAGE,
    _PAYMENT_INTENT_DATA_PARAMS,
    _PRICE_DATA_PARAMS,
    _PRODUCT_DATA_PARAMS,
    _SESSION_PARAMS,
    _SESSION_PATH_RE,
    _ApiError,
    _array,
    _check_known,
    _integer,
    _mask,
    _metadata,
    _missing,
    _object,
    _only_one,
    _required_string,
    _string,
    _url,
    decode_params,
)


class FakeStripe(FakeHttpServer):
    """Stripe's checkout-session API and auth/error/idempotency behaviour on 127.0.0.1.

    `base_url` is for `StripeClient(base_addresses={"api": ...})`.
    """

    thread_name = "fake-stripe"

    def __init__(self, api_key: str):
        super().__init__()
        self.api_key = api_key
        self.calls: list[dict[str, Any]] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, dict[str, Any]] = {}

    def add_price(
        self,
        unit_amount: int,
        currency: str = "usd",
        *,
        recurring: dict[str, Any] | None = None,
        price_id: str | None = None,
    ) -> str:
        """Register a Price usable as `line_items[i][price]`; returns its id."""
        price_id = price_id or new_id("price_")
        with self._lock:
            self.prices[price_id] = {
                "id": price_id,
                "object": "price",
                "active": True,
                "currency": currency.lower(),
                "livemode": False,
                "recurring": recurring,
                "type": "recurring" if recurring else "one_time",
                "unit_amount": unit_amount,
            }
        return price_id

    def complete_session(self, session_id: str, *, payment_intent: str | None = None) -> dict:
        """Mark a stored session paid as a finished Checkout would; returns a copy of it."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=payment_intent or new_id("pi_"),
                url=None,
            )
            return copy.deepcopy(session)

    # --- request handling -------------------------------------------------------------------

    def _handle(self, handler: FakeHandler) -> None:
        split = urlsplit(handler.path)
        body = handler.read_body().decode("utf-8", "replace")
        method, path = handler.command, split.path
        headers = dict(handler.headers.items())
        params: dict[str, Any] = {}
        decode_error = None
        try:
            params = decode_params(body if method == "POST" else split.query)
        except _ApiError as exc:
            decode_error = exc
        with self._lock:
            self.calls.append(
                {"method": method, "path": path, "params": params, "headers": headers}
            )
        request_id = new_id("req_")
        extra = {"Request-Id": request_id}
        if handler.headers.get("Stripe-Version"):
            extra["Stripe-Version"] = handler.headers["Stripe-Version"]
        try:
            self._authenticate(handler.headers.get("Authorization"))
            if decode_error is not None:
                raise decode_error
            status, payload, replay = self._dispatch(
                method, path, params, handler.headers.get("Idempotency-Key"), request_id
            )
            extra.update(replay)
        except _ApiError as exc:
            status, payload = exc.status, {"error": exc.error}
        data = json.dumps(payload).encode()
        handler.reply(status, data, headers=extra)

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic":
            try:
                user, _, password = (
                    base64.b64decode(credentials, validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            key = user if password == "" else f"{user}:{password}"
        elif scheme.lower() == "bearer":
            key = credentials
        else:
            key = ""
        if not key:
            raise _ApiError(401, _NO_KEY_MESSAGE)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise _ApiError(401, f"Invalid API Key provided: {_mask(key)}")

    def _dispatch(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        idempotency_key: str | None,
        request_id: str,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._idempotently(
                idempotency_key, method, path, params, request_id, self._create_session
            )
        match = _SESSION_PATH_RE.fullmatch(path)
        if method == "GET" and match:
            with self._lock:
                session = self.sessions.get(match.group(1))
            if session is None:
                raise _ApiError(
                    404,
                    f"No such checkout.session: '{match.group(1)}'",
                    code="resource_missing",
                    param="session",
                )
            return 200, session, {}
        raise _ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _idempotently(
        self,
        key: str | None,
        method: str,
        path: str,
        params: dict[str, Any],
        request_id: str,
        create: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Replay a saved result for a reused Idempotency-Key, or run `create` and save it."""
        with self._lock:
            saved = self._idempotent.get(key) if key else None
            if saved is not None:
                endpoint, saved_endpoint = f"{method} {path}", saved["endpoint"]
                if endpoint != saved_endpoint:
                    raise _ApiError(
                        400,
                        "Keys for idempotent requests can only be used for the same endpoint "
                        f"they were first used for ('{saved_endpoint}' vs '{endpoint}'). Try "
                        f"using a key other than '{key}' if you meant to execute a different "
                        "request.",
                        error_type="idempotency_error",
                    )
                if params != saved["params"]:
                    raise _ApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                        error_type="idempotency_error",
                    )
                replay = {"Idempotent-Replayed": "true", "Original-Request": saved["request_id"]}
                return 200, copy.deepcopy(saved["response"]), replay
            response = create(params)
            if key:
                self._idempotent[key] = {
                    "endpoint": f"{method} {path}",
                    "params": copy.deepcopy(params),
                    "request_id": request_id,
                    "response": copy.deepcopy(response),
                }
            return 200, response, {}

    # --- POST /v1/checkout/sessions (called with the lock held) -----------------------------

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_known(params, _SESSION_PARAMS, "")
        mode = _required_string(params, "mode")
        if mode not in _MODES:
            raise _ApiError(
                400, "Invalid mode: must be one of payment, setup, or subscription", param="mode"
            )
        success_url = _url(_required_string(params, "success_url"), "success_url")
        cancel_url = params.get("cancel_url")
        if cancel_url is not None:
            _url(_string(cancel_url, "cancel_url"), "cancel_url")
        amount_total = currency = None
        if mode == "setup":
            if "line_items" in params:
                raise _ApiError(
                    400, "You can not pass `line_items` in `setup` mode.", param="line_items"
                )
            if "currency" in params:
                currency = _string(params["currency"], "currency").lower()
        else:
            if "line_items" not in params:
                raise _missing("line_items")
            items = _array(params["line_items"], "line_items")
            amount_total, currency = self._price_line_items(items, mode)
        if "payment_intent_data" in params:
            if mode != "payment":
                raise _ApiError(
                    400,
                    f"You can not pass `payment_intent_data` in `{mode}` mode.",
                    param="payment_intent_data",
                )
            intent_data = _object(params["payment_intent_data"], "payment_intent_data")
            _check_known(intent_data, _PAYMENT_INTENT_DATA_PARAMS, "payment_intent_data")
            _metadata(intent_data.get("metadata"), "payment_intent_data[metadata]")
        client_reference_id = params.get("client_reference_id")
        if client_reference_id is not None:
            _string(client_reference_id, "client_reference_id")
            if len(client_reference_id) > 200:
                raise _ApiError(
                    400,
                    "client_reference_id can have up to 200 characters.",
                    param="client_reference_id",
                )
        customer_email = params.get("customer_email")
        if customer_email is not None:
            _string(customer_email, "customer_email")
        created = int(time.time())
        expires_at = created + 24 * 3600
        if "expires_at" in params:
            expires_at = _integer(params["expires_at"], "expires_at")
            if not created + 30 * 60 <= expires_at <= created + 24 * 3600:
                raise _ApiError(
                    400,
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                    "Checkout Session creation.",
                    param="expires_at",
                )
        session_id = new_id("cs_test_")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount_total,
            "amount_total": amount_total,
            "cancel_url": cancel_url,
            "client_reference_id": client_reference_id,
            "created": created,
            "currency": currency,
            "customer": params.get("customer"),
            "customer_details": None,
            "customer_email": customer_email,
            "expires_at": expires_at,
            "livemode": False,
            "metadata": _metadata(params.get("metadata"), "metadata"),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "setup_intent": None,
            "status": "open",
            "subscription": None,
            "success_url": success_url,
            "ui_mode": "hosted",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return copy.deepcopy(session)

    def _price_line_items(self, items: list[Any], mode: str) -> tuple[int, str]:
        """Validate line items like Stripe; returns (amount_total, currency)."""
        total = Decimal(0)
        currency: str | None = None
        recurring_seen = False
        for index, raw in enumerate(items):
            prefix = f"line_items[{index}]"
            item = _object(raw, prefix)
            _check_known(item, _LINE_ITEM_PARAMS, prefix)
            if "price" in item and "price_data" in item:
                raise _only_one(prefix, "price", "price_data")
            if "price" in item:
                price_id = _required_string(item, "price", prefix)
                price = self.prices.get(price_id)
                if price is None:
                    raise _ApiError(
                        400,
                        f"No such price: '{price_id}'",
                        code="resource_missing",
                        param=f"{prefix}[price]",
                    )
                unit, item_currency, recurring = (
                    Decimal(price["unit_amount"]),
                    price["currency"],
                    bool(price["recurring"]),
                )
                currency_param = f"{prefix}[price]"
            elif "price_data" in item:
                unit, item_currency, recurring = self._price_data(item["price_data"], prefix)
                currency_param = f"{prefix}[price_data][currency]"
            else:
                raise _ApiError(
                    400,
                    "You must provide either price or price_data for each line item when using "
                    "prices.",
                    code="parameter_missing",
                    param=f"{prefix}[price]",
                )
            if "quantity" not in item:
                raise _missing(f"{prefix}[quantity]")
            quantity = _integer(item["quantity"], f"{prefix}[quantity]", minimum=1)
            _metadata(item.get("metadata"), f"{prefix}[metadata]")
            if currency is not None and item_currency != currency:
                raise _ApiError(
                    400, "All line items must have the same currency.", param=currency_param
                )
            currency = item_currency
            recurring_seen = recurring_seen or recurring
            total += unit * quantity
        if mode == "subscription" and not recurring_seen:
            raise _ApiError(
                400,
                "You must provide at least one recurring price in `subscription` mode when using "
                "prices.",
                param="line_items",
            )
        if mode == "payment" and recurring_seen:
            raise _ApiError(
                400,
                "You specified `payment` mode but passed a recurring price. Either switch to "
                "`subscription` mode or use only one-time prices.",
                param="line_items",
            )
        assert currency is not None
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP)), currency

    @staticmethod
    def _price_data(raw: Any, prefix: str) -> tuple[Decimal, str, bool]:
        """Validate `line_items[i][price_data]`; returns (unit amount, currency, recurring)."""
        prefix = f"{prefix}[price_data]"
        data = _object(raw, prefix)
        _check_known(data, _PRICE_DATA_PARAMS, prefix)
        currency = _required_string(data, "currency", prefix).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise _ApiError(400, f"Invalid currency: {currency}.", param=f"{prefix}[currency]")
        if "product" in data and "product_data" in data:
            raise _only_one(prefix, "product", "product_data")
        if "product" in data:
            _required_string(data, "product", prefix)
        elif "product_data" in data:
            product_prefix = f"{prefix}[product_data]"
            product = _object(data["product_data"], product_prefix)
            _check_known(product, _PRODUCT_DATA_PARAMS, product_prefix)
            _required_string(product, "name", product_prefix)
            _metadata(product.get("metadata"), f"{product_prefix}[metadata]")
        else:
            raise _missing(f"{prefix}[product_data]")
        if "unit_amount" in data and "unit_amount_decimal" in data:
            raise _only_one(prefix, "unit_amount", "unit_amount_decimal")
        if "unit_amount" in data:
            unit = Decimal(_integer(data["unit_amount"], f"{prefix}[unit_amount]", minimum=0))
        elif "unit_amount_decimal" in data:
            param = f"{prefix}[unit_amount_decimal]"
            try:
                unit = Decimal(_string(data["unit_amount_decimal"], param))
            except InvalidOperation:
                raise _ApiError(
                    400, f"Invalid decimal: {data['unit_amount_decimal']}", param=param
                ) from None
            if not unit.is_finite() or unit < 0:
                raise _ApiError(400, f"Invalid decimal: {unit}", param=param)
        else:
            raise _missing(f"{prefix}[unit_amount]")
        recurring = "recurring" in data
        if recurring:
            _object(data["recurring"], f"{prefix}[recurring]")
        return unit, currency, recurring
