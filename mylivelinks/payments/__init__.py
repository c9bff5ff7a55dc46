"""Payment stores behind one PaymentProvider interface (`payments/base.py`).

The registry maps a provider name, as stored on purchases and payment events, to
"module:Class"; adapters are imported when first used. Stripe sells the web packs through
its checkout; the App Store (iOS) and Google Play (Android) sell the mobile packs as in-app
purchases. Business code asks `payment_provider(name)` or
`provider_for_platform(platform)` and never names a vendor.
"""

from __future__ import annotations

from flask import Flask, current_app

from mylivelinks.payments.base import PaymentNotSupported, PaymentProvider
from mylivelinks.registry import adapter_class

REGISTRY: dict[str, str] = {
    "stripe": "mylivelinks.payments.stripe:StripeProvider",
    "apple": "mylivelinks.payments.apple:AppleProvider",
    "google": "mylivelinks.payments.google:GoogleProvider",
}
# The store that sells each platform's coin packs.
PROVIDER_FOR_PLATFORM: dict[str, str] = {
    "web": "stripe",
    "ios": "apple",
    "android": "google",
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


def platform_of(provider: str) -> str | None:
    """The platform whose packs the provider `provider` sells, if any."""
    return next((p for p, name in PROVIDER_FOR_PLATFORM.items() if name == provider), None)
