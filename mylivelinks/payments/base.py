"""The PaymentProvider interface: the one way business code talks to a payment store.

Adapters (Stripe on the web, Apple and Google in the apps) implement it; callers never
branch on the vendor. A vendor's failure comes out as a PaymentProviderError subclass,
never the vendor's own exception. A verified webhook is stored as it came, and its
vendor-neutral PaymentFacts are what the ledger's one purchase state machine applies.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self

from flask import Flask

from mylivelinks.payments.facts import PaymentFacts
from mylivelinks.payments.packs import CoinPack

if TYPE_CHECKING:
    from mylivelinks.models.payments import CoinPurchase


class PaymentProviderError(Exception):
    """Base of every error an adapter raises; `str(exc)` is safe to show the buyer."""


class PaymentNotConfigured(PaymentProviderError):
    """The settings this call needs (an API key, a webhook secret) are not set."""


class PaymentUnavailable(PaymentProviderError):
    """The store could not be reached or failed (network, 5xx, rate limit): retrying may help."""


class PaymentRejected(PaymentProviderError):
    """The store refused the call (bad key, invalid request, 4xx): retrying will not help."""


class PurchaseInvalid(PaymentRejected):
    """The proof of an in-app purchase did not verify, or names no purchase of this app."""


class PaymentNotSupported(PaymentProviderError):
    """The store offers no way to do this; see the adapter's capability flags."""


class WebhookRejected(PaymentProviderError):
    """A webhook that must not be stored."""


class WebhookSignatureInvalid(WebhookRejected):
    """The signature is missing, wrong or too old."""


class WebhookPayloadInvalid(WebhookRejected):
    """The signature verified but the body is not an event of this store."""


@dataclass(frozen=True)
class Checkout:
    """A hosted payment page the buyer is sent to; `session_id` is the store's id for it."""

    session_id: str
    url: str


@dataclass(frozen=True)
class StorePurchase:
    """An in-app purchase the store vouches for, as the app reported it.

    `payment_ref` is the id the store's notifications about it carry (Apple's transactionId,
    Google's purchase token); `facts` say what the store says about it now.
    """

    payment_ref: str
    facts: PaymentFacts


@dataclass(frozen=True)
class VerifiedPaymentEvent:
    """A verified webhook event as it is stored; `event_id` is unique per provider.

    `payload` is the event as decoded JSON. What it says about a payment is read from the
    stored payload by `PaymentProvider.read_facts` when the event is applied, not here: an
    event whose facts cannot be read is still stored, retried and finally parked for a
    human, and a reader fixed later applies the events already stored.
    """

    provider: str
    event_id: str
    event_type: str
    payment_ref: str | None  # the store's payment id, linking events of one payment
    payload: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class ListedVoid:
    """A refund or chargeback read from the store's list of voided purchases: the event
    its notification would be stored as, what the store listed (handed to `read_facts`
    as the event's store record) and those listed bytes."""

    event: VerifiedPaymentEvent
    store_record: dict[str, Any] = field(compare=False)
    raw_body: bytes = field(compare=False)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name` in any letter case, or None."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


class PaymentProvider(ABC):
    """A payment store behind one interface (Libcloud-style driver)."""

    name: ClassVar[str]
    # The store hosts a payment page the server opens (web); in-app stores do not.
    has_checkout: ClassVar[bool]
    # The store expects the seller to confirm each purchase once delivered (Google's consume).
    finishes_purchases: ClassVar[bool] = False
    # How far back the store lists voided purchases (Google: 30 days); zero lists none.
    voided_history: ClassVar[timedelta] = timedelta(0)

    @classmethod
    @abstractmethod
    def from_app(cls, app: Flask) -> Self:
        """The adapter configured from `app.config`; missing settings fail only when used."""

    def create_checkout(self, purchase_id: str, buyer_id: str, pack: CoinPack) -> Checkout:
        """A hosted checkout selling `pack`, tagged with the purchase and buyer ids.

        Idempotent per `purchase_id`. Raises PaymentNotConfigured, PaymentUnavailable or
        PaymentRejected; PaymentNotSupported where `has_checkout` is false.
        """
        raise PaymentNotSupported(f"{self.name} has no checkout")

    def verify_purchase(self, proof: Mapping[str, str]) -> StorePurchase:
        """Verify what an app sends after an in-app purchase (a signed transaction, a token).

        Raises PurchaseInvalid when the store does not vouch for it, PaymentNotConfigured,
        PaymentUnavailable; PaymentNotSupported where the store has no in-app purchases.
        """
        raise PaymentNotSupported(f"{self.name} has no in-app purchases")

    def finish_purchase(self, purchase: CoinPurchase) -> None:
        """Confirm a credited purchase to the store where `finishes_purchases` (idempotent).

        Raises PaymentUnavailable or PaymentRejected; called by a job, outside transactions.
        """
        return None

    def look_up(self, event_type: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """What the store says now about the purchase a stored event names, when the event
        itself does not say enough (Google); None where the payload says it all.

        Called by the job before the event is applied, outside any transaction; the answer
        is stored with the event and handed to `read_facts`. Raises PaymentUnavailable or
        PaymentRejected.
        """
        return None

    def lists_voided_purchases(self) -> bool:
        """Whether the store's list of voided purchases can be read now (configured)."""
        return False

    def voided_purchases(self, start: datetime, end: datetime | None = None) -> list[ListedVoid]:
        """The purchases the store recorded as voided (refunded, charged back) from `start`
        to `end` (to the store's own now without one), every page of them.

        Called by a job outside any transaction. Raises PaymentUnavailable or
        PaymentRejected; PaymentNotSupported where the store keeps no such list.
        """
        raise PaymentNotSupported(f"{self.name} lists no voided purchases")

    def answer_event(
        self, event_type: str, payload: dict[str, Any], purchase: CoinPurchase | None
    ) -> None:
        """Answer the store where an applied event asks for it (Apple's consumption requests).

        Called by the job after the event was applied and committed; idempotent.
        """
        return None

    @abstractmethod
    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedPaymentEvent:
        """Verify a webhook on its raw `body` with the store's own scheme, then parse it.

        Raises WebhookSignatureInvalid or WebhookPayloadInvalid (nothing may be stored
        then), PaymentNotConfigured without the secret it needs.
        """

    @abstractmethod
    def read_facts(
        self,
        event_type: str,
        payload: dict[str, Any],
        store_record: dict[str, Any] | None = None,
    ) -> PaymentFacts | None:
        """The vendor-neutral facts of a stored event, or None for events about no purchase.

        Pure (no vendor call, no settings): it runs in the job that applies the event, with
        what `look_up` stored for it (`store_record`).
        """
