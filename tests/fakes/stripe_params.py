"""Stripe's form encoding and parameter checks, as the fake API server applies them."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Parameter names Stripe accepts, from stripe-python's checkout SessionCreateParams.
_SESSION_PARAMS = _names(
    """
    adaptive_pricing after_expiration allow_promotion_codes allowed_payment_method_types
    automatic_tax billing_address_collection branding_settings cancel_url client_reference_id
    consent_collection currency custom_fields custom_text customer customer_account
    customer_creation customer_email customer_update discounts excluded_payment_method_types
    expand expires_at integration_identifier invoice_creation line_items locale managed_payments
    metadata mode name_collection optional_items origin_context payment_intent_data
    payment_method_collection payment_method_configuration payment_method_data
    payment_method_options permissions phone_number_collection redirect_on_completion return_url
    saved_payment_method_options setup_intent_data shipping_address_collection shipping_options
    submit_type subscription_data success_url tax_id_collection ui_mode wallet_options
    """
)
_LINE_ITEM_PARAMS = _names("adjustable_quantity metadata price price_data quantity tax_rates")
_PRICE_DATA_PARAMS = _names(
    "currency product product_data recurring tax_behavior unit_amount unit_amount_decimal"
)
_PRODUCT_DATA_PARAMS = _names("description images metadata name tax_code tax_details unit_label")
_PAYMENT_INTENT_DATA_PARAMS = _names(
    """
    application_fee_amount capture_method description metadata on_behalf_of receipt_email
    setup_future_usage shipping statement_descriptor statement_descriptor_suffix transfer_data
    transfer_group
    """
)
_MODES = ("payment", "setup", "subscription")

_NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_KEY_RE = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")
_INTEGER_RE = re.compile(r"-?\d+")
_SESSION_PATH_RE = re.compile(r"/v1/checkout/sessions/([^/]+)")


class _ApiError(Exception):
    """An error answer: HTTP status plus the fields of Stripe's `error` object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": error_type, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
        if param:
            self.error["param"] = param


def decode_params(encoded: str) -> dict[str, Any]:
    """Decode a Stripe form body or query string; `a[b][0][c]=v` nests, numeric keys make lists."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(encoded, keep_blank_values=True):
        match = _KEY_RE.fullmatch(raw_key)
        if match is None:
            raise _ApiError(400, f"Invalid parameter name: {raw_key}", param=raw_key)
        parts = [match.group(1), *_SEGMENT_RE.findall(match.group(2))]
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":  # `a[]=x`: append
                if not last:
                    raise _ApiError(400, "Invalid array", param=raw_key)
                part = str(sum(key.isdigit() for key in node))
            if last:
                if isinstance(node.get(part), dict):
                    raise _ApiError(400, "Invalid object", param=raw_key)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise _ApiError(400, "Invalid object", param=raw_key)
                node = child
    return _listify(root, "")


def _listify(value: Any, name: str) -> Any:
    """Turn every dict whose keys are all indexes into a list (metadata keys stay as they are)."""
    if not isinstance(value, dict):
        return value
    converted = {key: _listify(item, key) for key, item in value.items()}
    if name != "metadata" and converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _missing(param: str) -> _ApiError:
    return _ApiError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def _only_one(prefix: str, *names: str) -> _ApiError:
    message = "You may only specify one of these parameters: " + ", ".join(names) + "."
    return _ApiError(400, message, param=prefix or None)


def _check_known(params: dict[str, Any], allowed: frozenset[str], prefix: str) -> None:
    for key in params:
        if key not in allowed:
            param = f"{prefix}[{key}]" if prefix else key
            raise _ApiError(
                400,
                f"Received unknown parameter: {param}",
                code="parameter_unknown",
                param=param,
            )


def _object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _ApiError(400, "Invalid object", code="parameter_invalid_object", param=param)
    return value


def _array(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise _ApiError(400, "Invalid array", code="parameter_invalid_array", param=param)
    return value


def _string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _ApiError(
            400, f"Invalid string: {value!r}", code="parameter_invalid_string", param=param
        )
    return value


def _required_string(params: dict[str, Any], key: str, prefix: str = "") -> str:
    param = f"{prefix}[{key}]" if prefix else key
    if key not in params:
        raise _missing(param)
    value = _string(params[key], param)
    if value == "":
        raise _ApiError(
            400,
            f"You passed an empty string for '{param}'. We assume empty values are an attempt to "
            f"unset a parameter; however '{param}' cannot be unset. You should remove '{param}' "
            "from your request or supply a non-empty value.",
            code="parameter_invalid_empty",
            param=param,
        )
    return value


def _integer(value: Any, param: str, minimum: int | None = None) -> int:
    if not isinstance(value, str) or not _INTEGER_RE.fullmatch(value):
        raise _ApiError(
            400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param
        )
    number = int(value)
    if minimum is not None and number < minimum:
        raise _ApiError(400, f"This value must be greater than or equal to {minimum}.", param=param)
    return number


def _url(value: str, param: str) -> str:
    if not re.match(r"https?://[^\s/]+", value):
        raise _ApiError(400, "Not a valid URL", code="url_invalid", param=param)
    return value


def _metadata(value: Any, param: str) -> dict[str, str]:
    """Validate metadata like Stripe: string values, empty values unset keys, 50 keys max."""
    if value is None or value == "":
        return {}
    metadata = {}
    for key, item in _object(value, param).items():
        item_param = f"{param}[{key}]"
        if len(key) > 40:
            raise _ApiError(400, "Metadata keys can have up to 40 characters.", param=item_param)
        if len(_string(item, item_param)) > 500:
            raise _ApiError(400, "Metadata values can have up to 500 characters.", param=item_param)
        if item != "":
            metadata[key] = item
    if len(metadata) > 50:
        raise _ApiError(400, "Metadata can have up to 50 keys.", param=param)
    return metadata


def _mask(api_key: str) -> str:
    match = re.match(r"((?:sk|rk|pk)_(?:test|live)_)(.*)", api_key)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", api_key)
    return f"{prefix}****{rest[-4:]}"
