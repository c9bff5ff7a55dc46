"""Helpers for the App Store and Google Play tests: settings, buyers, deliveries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes import apple_store, google_play
from tests.fakes.apple_store import ApplePki, FakeAppStore
from tests.fakes.google_play import FakeGooglePlay

# The App Store Server API key (.p8) the fake knows the public half of.
APPLE_API_KEY = ec.generate_private_key(ec.SECP256R1())


def store_settings(folder: Path, app_store: FakeAppStore, play: FakeGooglePlay) -> dict[str, str]:
    """The environment that points the app at the fakes, as production is configured."""
    assert app_store.pki is not None
    key_file = folder / "AuthKey_TESTKEY123.p8"
    key_file.write_bytes(
        APPLE_API_KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return {
        "APPLE_BUNDLE_ID": apple_store.BUNDLE_ID,
        "APPLE_APP_APPLE_ID": str(apple_store.APP_APPLE_ID),
        "APPLE_ENVIRONMENT": "Production",
        "APPLE_ROOT_CERTIFICATES_DIR": str(app_store.pki.write_root(folder / "apple-roots")),
        "APPLE_ONLINE_CHECKS": "true",
        "APPLE_API_KEY_ID": apple_store.API_KEY_ID,
        "APPLE_API_ISSUER_ID": apple_store.API_ISSUER_ID,
        "APPLE_API_PRIVATE_KEY_FILE": str(key_file),
        "APPLE_API_URL": app_store.base_url,
        "APPLE_CONSUMPTION_CONSENT": "true",
        "GOOGLE_PLAY_PACKAGE_NAME": google_play.PACKAGE,
        "GOOGLE_SERVICE_ACCOUNT_FILE": str(play.service_account_file(folder)),
        "GOOGLE_PLAY_API_URL": play.base_url + "/",
        "GOOGLE_PUBSUB_AUDIENCE": google_play.PUSH_AUDIENCE,
        "GOOGLE_PUBSUB_SERVICE_ACCOUNT": google_play.PUSH_ACCOUNT,
        "GOOGLE_OIDC_CERTS_URL": play.base_url + "/oauth2/v1/certs",
    }


class StoreBuyer:
    """A registered user of the app."""

    def __init__(self, api, username: str | None = None):
        self.api = api
        self.session = api.register(username)
        self.headers = api.auth(self.session)

    @property
    def user_id(self) -> str:
        """The buyer's profile id (what the apps give the stores as the account)."""
        return self.session["user"]["id"]

    def wallet(self) -> dict:
        """GET /me/wallet."""
        return self.api.get("/api/v1/me/wallet", headers=self.headers).get_json()

    def purchases(self) -> list[dict]:
        """GET /coins/purchases."""
        return self.api.get("/api/v1/coins/purchases?limit=100", headers=self.headers).get_json()[
            "items"
        ]

    def only_purchase(self) -> dict:
        """The buyer's one purchase."""
        items = self.purchases()
        assert len(items) == 1, items
        return items[0]


class AppleBuyer(StoreBuyer):
    """A buyer on iOS: StoreKit 2 hands the app signed transactions from the App Store."""

    def __init__(self, api, store: FakeAppStore, username: str | None = None):
        super().__init__(api, username)
        self.store = store
        assert store.pki is not None
        self.pki: ApplePki = store.pki

    def buy(self, product_id: str = "ios_5", *, account: bool = True, **extra: Any) -> dict:
        """Claims of a new transaction (with appAccountToken = the user id unless not)."""
        claims = apple_store.transaction(
            product_id, account=self.user_id if account else None, **extra
        )
        with self.store._lock:
            self.store.known_transactions.add(claims["transactionId"])
        return claims

    def redeem(self, signed: str):
        """POST /coins/apple/transactions."""
        return self.api.post(
            "/api/v1/coins/apple/transactions",
            json={"signed_transaction": signed},
            headers=self.headers,
        )

    def notify(self, notification_type: str, claims: dict, **options: Any):
        """POST the App Store's notification of `notification_type` about a transaction."""
        return self.api.post(
            "/api/v1/webhooks/apple",
            json=apple_body(self.pki, notification_type, claims, **options),
        )


def apple_body(pki: ApplePki, notification_type: str, claims: dict, **options: Any) -> dict:
    """The body of an App Store Server Notification V2 about the transaction `claims`."""
    signed_at = options.pop("signed_at", None)
    signed_transaction = pki.sign(claims)
    return {
        "signedPayload": pki.sign(
            apple_store.notification(
                pki, notification_type, signed_transaction, signed_at=signed_at, **options
            )
        )
    }


class GoogleBuyer(StoreBuyer):
    """A buyer on Android: Play Billing hands the app purchase tokens."""

    def __init__(self, api, play: FakeGooglePlay, username: str | None = None):
        super().__init__(api, username)
        self.play = play

    def buy(self, product_id: str = "android_5", *, account: bool = True, **extra: Any) -> dict:
        """A purchase at Google (with obfuscatedAccountId = the user id unless not)."""
        return self.play.buy(product_id, account=self.user_id if account else None, **extra)

    def redeem(self, record: dict):
        """POST /coins/google/purchases."""
        return self.api.post(
            "/api/v1/coins/google/purchases",
            json={"product_id": record["productId"], "purchase_token": record["purchaseToken"]},
            headers=self.headers,
        )

    def notify(self, kind: str, record: dict, **token: Any):
        """Push Google's notification (`purchased`, `canceled`, `voided`) like Pub/Sub."""
        return push(self.api, self.play, self.play.notification(kind, record), **token)


def push(api, play: FakeGooglePlay, notification: dict, message_id: str | None = None, **token):
    """POST a Pub/Sub push of `notification` with an OIDC token (options: `push_token`)."""
    return api.post(
        "/api/v1/webhooks/google",
        data=play.push_body(notification, message_id),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {play.push_token(**token)}",
        },
    )
