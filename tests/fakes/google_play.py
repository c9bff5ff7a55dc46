"""Google's side for tests on 127.0.0.1: the OAuth token endpoint of the service-account
flow, the Android Publisher API's one-time products and voided purchases, and the
certificates Google signs Pub/Sub push tokens with (plus a signer for such tokens).

It refuses what Google refuses: no or unknown access token (401), an assertion not signed
by the service account's key (invalid_grant), another app's package (404), a token it does
not know or of another product (400 "Invalid Value"), consuming twice (400
invalidPurchaseState), and a voided purchases window Google does not serve (400): a
startTime older than 30 days, an endTime in the future or before the startTime, a page
size outside 1..1000, a type other than 0 or 1, index paging, a page token it did not
issue. As Google does, it files a void under the time it recorded it (`void(at=...)`), a
page token carries its window (startTime and endTime are ignored beside one), and the
list reaches back 30 days only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fakes.http_fake import FakeHandler, FlakyFakeHttpServer

PACKAGE = "com.mylivelinks.android"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
PUSH_AUDIENCE = "https://api.mylivelinks.test/api/v1/webhooks/google"
PUSH_ACCOUNT = "rtdn-push@mylivelinks-test.iam.gserviceaccount.com"
_PRODUCT_RE = re.compile(
    r"/androidpublisher/v3/applications/([^/]+)/purchases/products/([^/]+)/tokens/([^/]+?)"
    r"(:consume|:acknowledge)?"
)
_VOIDED_RE = re.compile(r"/androidpublisher/v3/applications/([^/]+)/purchases/voidedpurchases")
VOIDED_HISTORY_MS = 30 * 24 * 3600 * 1000
VOIDED_MAX_RESULTS = 1000


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-oidc-signer")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


class _GoogleError(Exception):
    def __init__(self, status: int, message: str, reason: str, domain: str = "global") -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }


def _known_package(package: str) -> None:
    """Google's answer for an app the service account cannot see: 404 applicationNotFound."""
    if package != PACKAGE:
        raise _GoogleError(
            404,
            "No application was found for the given package name.",
            "applicationNotFound",
            "androidpublisher",
        )


class FakeGooglePlay(FlakyFakeHttpServer):
    """Google Play's purchase records, its OAuth token endpoint and OIDC certificates."""

    thread_name = "fake-google-play"

    def __init__(self) -> None:
        super().__init__()
        self.account_key = _rsa_key()
        self.account_key_id = secrets.token_hex(20)
        self.account_email = "play-api@mylivelinks-test.iam.gserviceaccount.com"
        self.oidc_key = _rsa_key()
        self.oidc_key_id = secrets.token_hex(20)
        self.oidc_cert = _self_signed(self.oidc_key)
        self.purchases: dict[str, dict[str, Any]] = {}
        self.voided: list[dict[str, Any]] = []
        self.access_tokens: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.voided_queries: list[dict[str, str]] = []  # each voidedpurchases.list's query
        self._page_key = secrets.token_bytes(16)

    # --- what tests set up ------------------------------------------------------------------

    def service_account_file(self, folder: Path) -> Path:
        """A service-account key file whose token_uri is this fake."""
        path = folder / "play-service-account.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "mylivelinks-test",
                    "private_key_id": self.account_key_id,
                    "private_key": _pem(self.account_key),
                    "client_email": self.account_email,
                    "client_id": "100000000000000000001",
                    "token_uri": f"{self.base_url}/token",
                }
            )
        )
        return path

    def buy(
        self,
        product_id: str,
        *,
        account: str | None,
        state: int = 0,
        test_purchase: bool = False,
        package: str = PACKAGE,
    ) -> dict[str, Any]:
        """Record a one-time product purchase; returns it (with its token and order id)."""
        token = secrets.token_urlsafe(96) + ".AO-J1O" + secrets.token_urlsafe(24)
        record: dict[str, Any] = {
            "kind": "androidpublisher#productPurchase",
            "purchaseTimeMillis": str(int(time.time() * 1000)),
            "purchaseState": state,
            "consumptionState": 0,
            "developerPayload": "",
            "acknowledgementState": 0,
            "productId": product_id,
            "quantity": 1,
            "refundableQuantity": 1,
            "regionCode": "US",
            "purchaseToken": token,
            "_package": package,
        }
        if test_purchase:
            record["purchaseType"] = 0
        else:
            record["orderId"] = f"GPA.{uuid.uuid4().int % 10**16:016d}-{secrets.randbelow(10**5)}"
        if account:
            record["obfuscatedExternalAccountId"] = account
        with self._lock:
            self.purchases[token] = record
        return dict(record)

    def complete(self, token: str) -> None:
        """A pending purchase gets paid."""
        with self._lock:
            self.purchases[token]["purchaseState"] = 0

    def void(self, token: str, reason: int = 1, at: datetime | None = None) -> dict[str, Any]:
        """Refund (or charge back, reason 7) a purchase, recorded by Google now or `at`;
        returns its voided entry."""
        voided_ms = int((at.timestamp() if at else time.time()) * 1000)
        with self._lock:
            record = self.purchases[token]
            record["refundableQuantity"] = 0
            entry = {
                "kind": "androidpublisher#voidedPurchase",
                "purchaseToken": token,
                "purchaseTimeMillis": record["purchaseTimeMillis"],
                "voidedTimeMillis": str(voided_ms),
                "voidedSource": 0,
                "voidedReason": reason,
            }
            if "orderId" in record:
                entry["orderId"] = record["orderId"]
            self.voided.append(entry)
            self.voided.sort(key=lambda e: int(e["voidedTimeMillis"]))
            return dict(entry)

    def forget_voids(self) -> None:
        """Forget every void and listing recorded so far (a new test's clean list)."""
        with self._lock:
            self.voided.clear()
            self.voided_queries.clear()

    def notification(self, kind: str, record: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """A developer notification about a purchase: `purchased`, `canceled` or `voided`."""
        body: dict[str, Any] = {
            "version": "1.0",
            "packageName": record.get("_package", PACKAGE),
            "eventTimeMillis": str(int(time.time() * 1000)),
        }
        if kind == "voided":
            body["voidedPurchaseNotification"] = {
                "purchaseToken": record["purchaseToken"],
                "orderId": record.get("orderId", ""),
                "productType": 2,
                "refundType": 1,
            }
        else:
            body["oneTimeProductNotification"] = {
                "version": "1.0",
                "notificationType": 1 if kind == "purchased" else 2,
                "purchaseToken": record["purchaseToken"],
                "sku": record["productId"],
            }
        body.update(extra)
        return body

    def push_token(
        self,
        *,
        audience: str = PUSH_AUDIENCE,
        email: str = PUSH_ACCOUNT,
        email_verified: bool = True,
        issuer: str = "https://accounts.google.com",
        expires_in: int = 3600,
        key: rsa.RSAPrivateKey | None = None,
    ) -> str:
        """An OIDC token as Pub/Sub signs it for a push subscription."""
        now = int(time.time())
        claims = {
            "aud": audience,
            "azp": "118000000000000000000",
            "email": email,
            "email_verified": email_verified,
            "exp": now + expires_in,
            "iat": now - 5 if expires_in > 0 else now - 3600,
            "iss": issuer,
            "sub": "118000000000000000000",
        }
        return jwt.encode(
            claims, key or self.oidc_key, algorithm="RS256", headers={"kid": self.oidc_key_id}
        )

    @staticmethod
    def push_body(notification: dict[str, Any], message_id: str | None = None) -> bytes:
        """A Pub/Sub push request body carrying `notification`."""
        data = base64.b64encode(json.dumps(notification).encode()).decode()
        message_id = message_id or str(secrets.randbelow(10**16))
        return json.dumps(
            {
                "message": {
                    "attributes": {},
                    "data": data,
                    "messageId": message_id,
                    "message_id": message_id,
                    "publishTime": datetime.now(UTC).isoformat(),
                    "publish_time": datetime.now(UTC).isoformat(),
                },
                "subscription": "projects/mylivelinks-test/subscriptions/play-rtdn",
            }
        ).encode()

    # --- request handling -------------------------------------------------------------------

    def _handle(self, handler: FakeHandler) -> None:
        split = urlsplit(handler.path)
        body = handler.read_body()
        with self._lock:
            self.calls.append((handler.command, split.path))
            failure, delay = self._take_failure(), self._delay
        if delay:
            time.sleep(delay)
        try:
            if failure is not None:
                raise _GoogleError(failure, "Backend Error", "backendError")
            status, payload = self._dispatch(handler, split.path, split.query, body)
        except _GoogleError as exc:
            status, payload = exc.status, exc.body
        if status == 204:
            handler.reply(204, b"")
        else:
            handler.reply(status, json.dumps(payload).encode())

    def _dispatch(
        self, handler: FakeHandler, path: str, query: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if handler.command == "POST" and path == "/token":
            return self._token(body)
        if handler.command == "GET" and path == "/oauth2/v1/certs":
            cert = self.oidc_cert.public_bytes(serialization.Encoding.PEM).decode()
            return 200, {self.oidc_key_id: cert}
        self._authorize(handler.headers.get("Authorization"))
        if match := _PRODUCT_RE.fullmatch(path):
            package, product_id, token = (unquote(part) for part in match.groups()[:3])
            return self._product(handler.command, package, product_id, token, match.group(4))
        if handler.command == "GET" and (match := _VOIDED_RE.fullmatch(path)):
            return self._voided(unquote(match.group(1)), parse_qs(query))
        raise _GoogleError(404, "Not Found", "notFound")

    def _token(self, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != JWT_BEARER:
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "Invalid grant_type",
            }
        try:
            header = jwt.get_unverified_header(form.get("assertion", ""))
            if header.get("kid") != self.account_key_id:
                raise jwt.InvalidTokenError("unknown key id")
            claims = jwt.decode(
                form["assertion"],
                self.account_key.public_key(),
                algorithms=["RS256"],
                audience=TOKEN_AUDIENCE,  # what Google's token endpoint expects
                issuer=self.account_email,
                options={"require": ["exp", "iat", "iss", "aud", "scope"]},
            )
            if claims["exp"] - claims["iat"] > 3600 or SCOPE not in claims["scope"].split():
                raise jwt.InvalidTokenError("bad lifetime or scope")
        except (jwt.InvalidTokenError, KeyError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        token = "ya29." + secrets.token_urlsafe(32)
        with self._lock:
            self.access_tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _authorize(self, authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            known = scheme == "Bearer" and token in self.access_tokens
        if not known:
            raise _GoogleError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
                "authError",
            )

    def _product(
        self, method: str, package: str, product_id: str, token: str, action: str | None
    ) -> tuple[int, dict[str, Any]]:
        _known_package(package)
        with self._lock:
            record = self.purchases.get(token)
            if record is None or record["productId"] != product_id or record["_package"] != package:
                raise _GoogleError(400, "Invalid Value", "invalid")
            if method == "GET" and action is None:
                return 200, {k: v for k, v in record.items() if not k.startswith("_")}
            if method != "POST" or action is None:
                raise _GoogleError(404, "Not Found", "notFound")
            consumable = record["purchaseState"] == 0 and record["consumptionState"] == 0
            if action == ":acknowledge":
                consumable = record["purchaseState"] == 0 and record["acknowledgementState"] == 0
            if not consumable:
                raise _GoogleError(
                    400,
                    "The purchase is not in a valid state to perform the desired operation.",
                    "invalidPurchaseState",
                    "androidpublisher",
                )
            record["acknowledgementState"] = 1
            if action == ":consume":
                record["consumptionState"] = 1
        return 204, {}

    def _voided(self, package: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        _known_package(package)
        params = {name: values[-1] for name, values in query.items()}
        with self._lock:
            self.voided_queries.append(params)
        size = _int_param(params, "maxResults", VOIDED_MAX_RESULTS)
        if not 1 <= size <= VOIDED_MAX_RESULTS:
            raise _GoogleError(
                400, f"maxResults must be between 1 and {VOIDED_MAX_RESULTS}.", "invalid"
            )
        if "startIndex" in params:
            raise _GoogleError(400, "Index paging is not enabled for this list.", "invalid")
        if params.get("token"):
            start, end, kind, offset = self._read_page_token(params["token"])
        else:
            now = int(time.time() * 1000)
            start = _int_param(params, "startTime", now - VOIDED_HISTORY_MS)
            end = _int_param(params, "endTime", now)
            kind = _int_param(params, "type", 0)
            offset = 0
            if start < now - VOIDED_HISTORY_MS:
                raise _GoogleError(400, "startTime cannot be older than 30 days.", "invalid")
            if end > now:
                raise _GoogleError(400, "endTime cannot be in the future.", "invalid")
            if start > end:
                raise _GoogleError(400, "startTime must not be after endTime.", "invalid")
            if kind not in (0, 1):
                raise _GoogleError(400, "type must be 0 or 1.", "invalid")
        with self._lock:
            entries = [dict(e) for e in self.voided if start <= int(e["voidedTimeMillis"]) <= end]
        page = entries[offset : offset + size]
        result: dict[str, Any] = {
            "pageInfo": {
                "totalResults": len(entries),
                "resultPerPage": len(page),
                "startIndex": offset,
            },
            "voidedPurchases": page,
        }
        if offset + size < len(entries):
            token = self._page_token(start, end, kind, offset + size)
            result["tokenPagination"] = {"nextPageToken": token}
        return 200, result

    def _page_token(self, start: int, end: int, kind: int, offset: int) -> str:
        body = json.dumps([start, end, kind, offset]).encode()
        signature = hashlib.sha256(self._page_key + body).hexdigest()[:16]
        return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + signature

    def _read_page_token(self, token: str) -> tuple[int, int, int, int]:
        encoded, _, signature = token.partition(".")
        try:
            body = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if hashlib.sha256(self._page_key + body).hexdigest()[:16] != signature:
                raise ValueError("not issued here")
            start, end, kind, offset = json.loads(body)
            return int(start), int(end), int(kind), int(offset)
        except (ValueError, TypeError, binascii.Error):
            raise _GoogleError(400, "Invalid pagination token.", "invalid") from None


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    if name not in params:
        return default
    try:
        return int(params[name])
    except ValueError:
        raise _GoogleError(400, f"Invalid value for {name}.", "invalid") from None
