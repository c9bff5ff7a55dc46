"""What Google Play's records say, read without calling Google: developer notifications,
ProductPurchase and VoidedPurchase resources, and the facts the ledger takes from them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mylivelinks.models.payments import DisputeState
from mylivelinks.payments.base import WebhookPayloadInvalid
from mylivelinks.payments.facts import WHOLE_SHARE, PaymentFacts

# Event types this adapter stores, from the notification's kind (and type).
PURCHASED = "ONE_TIME_PRODUCT_PURCHASED"  # oneTimeProductNotification.notificationType 1
CANCELED = "ONE_TIME_PRODUCT_CANCELED"  # 2: a pending purchase cancelled before payment
VOIDED = "VOIDED_PURCHASE"  # voidedPurchaseNotification: refunds and chargebacks
SUBSCRIPTION = "SUBSCRIPTION"
TEST = "TEST"
# ProductPurchase.purchaseState and consumptionState; VoidedPurchase.voidedReason.
PURCHASE_STATE_PURCHASED = 0
CONSUMED = 1
VOIDED_REASON_CHARGEBACK = 7
# voidedPurchaseNotification.productType and refundType of a wholly refunded product.
PRODUCT_TYPE_ONE_TIME = 2
REFUND_TYPE_FULL = 1


def payment_id_of(record: Mapping[str, Any], purchase_token: str) -> str:
    """The order id; license testers' purchases have none, so their token's digest."""
    order_id = record.get("orderId")
    if order_id:
        return str(order_id)
    return "test:" + hashlib.sha256(purchase_token.encode()).hexdigest()


def purchase_facts(record: Mapping[str, Any], purchase_token: str, product_id: str) -> PaymentFacts:
    """What a ProductPurchase says: paid while purchased, refunded once nothing is left."""
    paid = record.get("purchaseState") == PURCHASE_STATE_PURCHASED
    refundable = record.get("refundableQuantity")
    refunded = paid and refundable is not None and int(refundable) == 0
    return PaymentFacts(
        payment_id=payment_id_of(record, purchase_token),
        session_id=purchase_token,
        product_id=record.get("productId") or product_id,
        buyer_id=record.get("obfuscatedExternalAccountId") or None,
        store_paid=paid,
        refunded_share=WHOLE_SHARE if refunded else None,
    )


def listed_void_notification(entry: Mapping[str, Any], package: str) -> dict[str, Any]:
    """The voided purchase notification Google would have pushed about a listed void."""
    return {
        "version": "1.0",
        "packageName": package,
        "eventTimeMillis": entry.get("voidedTimeMillis"),
        "voidedPurchaseNotification": {
            "purchaseToken": entry["purchaseToken"],
            "orderId": entry.get("orderId", ""),
            "productType": PRODUCT_TYPE_ONE_TIME,
            "refundType": REFUND_TYPE_FULL,
        },
    }


def event_facts(
    event_type: str, payload: dict[str, Any], store_record: dict[str, Any] | None
) -> PaymentFacts | None:
    """A purchase's facts as products.get answered; a void refunds it (a chargeback is
    also a lost dispute); cancellations of pending purchases change nothing."""
    if event_type == PURCHASED:
        one_time = payload["oneTimeProductNotification"]
        record = (store_record or {}).get("purchase")
        if not record:
            return PaymentFacts(session_id=one_time["purchaseToken"])
        return purchase_facts(record, one_time["purchaseToken"], one_time["sku"])
    if event_type == VOIDED:
        voided = payload["voidedPurchaseNotification"]
        entry = (store_record or {}).get("voided") or {}
        chargeback = entry.get("voidedReason") == VOIDED_REASON_CHARGEBACK
        return PaymentFacts(
            payment_id=voided.get("orderId") or None,
            session_id=voided["purchaseToken"],
            refunded_share=WHOLE_SHARE,
            dispute=DisputeState.LOST if chargeback else None,
        )
    return None


def notification_kind(notification: Mapping[str, Any]) -> tuple[str, str | None]:
    """The event type and purchase token of a developer notification."""
    one_time = notification.get("oneTimeProductNotification")
    if isinstance(one_time, dict):
        if not isinstance(one_time.get("purchaseToken"), str) or not one_time.get("sku"):
            raise WebhookPayloadInvalid("the one-time product notification has no token")
        kinds = {1: PURCHASED, 2: CANCELED}
        kind = kinds.get(one_time["notificationType"]) if "notificationType" in one_time else None
        if kind is None:
            raise WebhookPayloadInvalid("unknown one-time product notification type")
        return kind, one_time["purchaseToken"]
    voided = notification.get("voidedPurchaseNotification")
    if isinstance(voided, dict):
        if not isinstance(voided.get("purchaseToken"), str):
            raise WebhookPayloadInvalid("the voided purchase notification has no token")
        return VOIDED, voided["purchaseToken"]
    if isinstance(notification.get("subscriptionNotification"), dict):
        return SUBSCRIPTION, None
    if isinstance(notification.get("testNotification"), dict):
        return TEST, None
    raise WebhookPayloadInvalid("the notification is of no known kind")
