"""Payment stores behind one PaymentProvider interface (`payments/base.py`).

The registry maps a provider name, as stored on purchases and payment events, to
"module:Class"; adapters are imported when first used. Stripe sells the web packs through
its checkout; Apple (iOS) and Google (Android) in-app purchases will each be one more
adapter registered here. Business code asks `payment_provider(name)` or
`provider_for_platform(platform)` and never names a vendor.
"""

from __future__ import annotations

from flask import Flask, current_app

from mylivelinks.payments.base import PaymentNotSupported, PaymentProvider
from mylivelinks.registry import adapter_class

REGISTRY: dict[str, str] = {
    "stripe": "mylivelinks.payments.stripe:StripeProvider",
}
# The store that sells each platform's coin packs.
PROVIDER_FOR_PLATFORM: dict[str, str] = {
    "web": "stripe",
}


def create_payment_provider(name: str, app: Flask) -> PaymentProvider:
    """Instantiate the adapter registered under `name` for `app`."""
    adapter = adapter_class(REGISTRY, name, PaymentProvider, kind="payment provider")
    return adapter.from_app(app)


def payment_provider(name: str) -> PaymentProvider:
    """The current app's adapter for provider `name`, created on first use."""
    adapters: dict[str, PaymentProvider] = current_app.extensions.setdefault(
        "payment_providers", {}
    )
    adapter = adapters.get(name)
    if adapter is None:
        adapter = adapters.setdefault(name, create_payment_provider(name, current_app))
    return adapter


def provider_for_platform(platform: str) -> PaymentProvider:
    """The adapter selling `platform`'s packs; PaymentNotSupported where none is wired yet."""
    name = PROVIDER_FOR_PLATFORM.get(platform)
    if name is None:
        raise PaymentNotSupported(f"no payment provider sells {platform} packs yet")
    return payment_provider(name)
