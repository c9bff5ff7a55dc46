"""The App Store's side for tests: a certificate chain built like Apple's, JWS signed with
it, an OCSP responder, and the App Store Server API's consumption endpoint on 127.0.0.1.

The chain is a root CA, an intermediate carrying Apple's WWDR extension
(1.2.840.113635.100.6.2.1) and a leaf carrying the App Store receipt-signing extension
(1.2.840.113635.100.6.11.1), all P-256 with the extensions OpenSSL's strict mode wants;
`app-store-server-library` verifies it exactly as it verifies Apple's, given this root.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from tests.fakes.http_fake import FakeHandler, FakeHttpServer, FakeServer

WWDR_EXTENSION = "1.2.840.113635.100.6.2.1"
RECEIPT_SIGNING_EXTENSION = "1.2.840.113635.100.6.11.1"
BUNDLE_ID = "com.mylivelinks.app"
APP_APPLE_ID = 1234567890
API_KEY_ID = "TESTKEY123"
API_ISSUER_ID = "57246542-96fe-1a63-e053-0824d011072a"


@dataclass
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der_b64(self) -> str:
        """The certificate as an x5c entry (base64 of DER)."""
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MyLiveLinks Test PKI"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )


def issue(
    common_name: str,
    issuer: Issued | None,
    *,
    ca: bool,
    extension_oid: str | None = None,
    ocsp_url: str | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """A P-256 certificate signed by `issuer` (self-signed without one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = _name(common_name)
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if extension_oid:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(extension_oid), b"\x05\x00"),
            critical=False,
        )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


@dataclass
class ApplePki:
    """A root, an intermediate and a leaf made like Apple's, plus what the OCSP fake needs."""

    root: Issued
    intermediate: Issued
    leaf: Issued
    revoked: set[int] = field(default_factory=set)

    @classmethod
    def create(cls, ocsp_url: str | None = None) -> ApplePki:
        """A fresh chain; its certificates name `ocsp_url` as their OCSP responder."""
        root = issue("Test Apple Root CA - G3", None, ca=True)
        intermediate = issue(
            "Test Apple WWDR CA G6", root, ca=True, extension_oid=WWDR_EXTENSION, ocsp_url=ocsp_url
        )
        leaf = issue(
            "Test Prod ECC Mac App Store and iTunes Store Receipt Signing",
            intermediate,
            ca=False,
            extension_oid=RECEIPT_SIGNING_EXTENSION,
            ocsp_url=ocsp_url,
        )
        return cls(root, intermediate, leaf)

    def write_root(self, folder: Path) -> Path:
        """Save the root as Apple publishes its roots (DER, `.cer`); returns the folder."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "TestAppleRootCA-G3.cer").write_bytes(
            self.root.cert.public_bytes(serialization.Encoding.DER)
        )
        return folder

    def x5c(self) -> list[str]:
        """The x5c header Apple sends: leaf, intermediate, root."""
        return [self.leaf.der_b64, self.intermediate.der_b64, self.root.der_b64]

    def sign(self, claims: dict[str, Any], *, x5c: list[str] | None = None, key: Any = None) -> str:
        """A JWS (ES256, x5c header) of `claims`, as the App Store signs its data."""
        return jwt.encode(
            claims, key or self.leaf.key, algorithm="ES256", headers={"x5c": x5c or self.x5c()}
        )

    def by_serial(self, serial: int) -> tuple[Issued, Issued] | None:
        """(certificate, its issuer) of a serial number in the chain."""
        pairs = ((self.intermediate, self.root), (self.leaf, self.intermediate))
        return next(((c, i) for c, i in pairs if c.cert.serial_number == serial), None)


def now_ms() -> int:
    """The current time in milliseconds, as Apple's dates are."""
    return int(time.time() * 1000)


def transaction(
    product_id: str,
    *,
    account: str | None,
    transaction_id: str | None = None,
    environment: str = "Production",
    bundle_id: str = BUNDLE_ID,
    signed_at: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The claims of a JWSTransaction of a consumable purchase."""
    transaction_id = transaction_id or str(2000000000000000 + uuid.uuid4().int % 10**15)
    claims = {
        "transactionId": transaction_id,
        "originalTransactionId": transaction_id,
        "bundleId": bundle_id,
        "productId": product_id,
        "purchaseDate": now_ms(),
        "originalPurchaseDate": now_ms(),
        "quantity": 1,
        "type": "Consumable",
        "inAppOwnershipType": "PURCHASED",
        "signedDate": signed_at or now_ms(),
        "environment": environment,
        "transactionReason": "PURCHASE",
        "storefront": "USA",
        "storefrontId": "143441",
        "price": 990,
        "currency": "USD",
    }
    if account:
        claims["appAccountToken"] = account
    claims.update(extra)
    return claims


def notification(
    pki: ApplePki,
    notification_type: str,
    signed_transaction: str | None,
    *,
    environment: str = "Production",
    bundle_id: str = BUNDLE_ID,
    app_apple_id: int = APP_APPLE_ID,
    signed_at: int | None = None,
    subtype: str | None = None,
    notification_uuid: str | None = None,
) -> dict[str, Any]:
    """The claims of an App Store Server Notification V2."""
    data: dict[str, Any] = {
        "appAppleId": app_apple_id,
        "bundleId": bundle_id,
        "bundleVersion": "1.0",
        "environment": environment,
    }
    if signed_transaction:
        data["signedTransactionInfo"] = signed_transaction
    if notification_type == "CONSUMPTION_REQUEST":
        data["consumptionRequestReason"] = "UNINTENDED_PURCHASE"
    claims: dict[str, Any] = {
        "notificationType": notification_type,
        "notificationUUID": notification_uuid or str(uuid.uuid4()),
        "data": data,
        "version": "2.0",
        "signedDate": signed_at or now_ms(),
    }
    if subtype:
        claims["subtype"] = subtype
    return claims


class _Handler(FakeHandler):
    do_PUT = FakeHandler.do_GET


class _Server(FakeServer):
    # Every verification checks two certificates at once: a burst of notifications
    # opens many connections together, which Apple's responders accept.
    request_queue_size = 128


class FakeAppStore(FakeHttpServer):
    """Apple's OCSP responder for the test chain and the App Store Server API's consumption
    endpoint, which checks the API's bearer token (ES256, key id, issuer, audience, bundle)."""

    thread_name = "fake-app-store"
    handler_class = _Handler
    server_class = _Server

    def __init__(self, api_public_key: ec.EllipticCurvePublicKey) -> None:
        super().__init__()
        self.pki: ApplePki | None = None
        self.api_public_key = api_public_key
        self.consumption: list[tuple[str, dict[str, Any]]] = []
        self.ocsp_requests = 0
        self.known_transactions: set[str] = set()

    @property
    def ocsp_url(self) -> str:
        """Where the chain's certificates send OCSP requests."""
        return f"{self.base_url}/ocsp"

    def _handle(self, handler: FakeHandler) -> None:
        path = urlsplit(handler.path).path
        body = handler.read_body()
        if handler.command == "POST" and path == "/ocsp":
            self._answer_ocsp(handler, body)
            return
        prefix = "/inApps/v2/transactions/consumption/"
        if handler.command == "PUT" and path.startswith(prefix):
            self._consumption(handler, path[len(prefix) :], body)
            return
        self._error(handler, 404, 4040000, "Not found.")

    def _answer_ocsp(self, handler: FakeHandler, body: bytes) -> None:
        with self._lock:
            self.ocsp_requests += 1
            pki = self.pki
        request = ocsp.load_der_ocsp_request(body)
        found = pki.by_serial(request.serial_number) if pki else None
        if found is None:
            response = ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            )
        else:
            cert, issuer = found
            now = datetime.now(UTC)
            revoked = cert.cert.serial_number in pki.revoked  # type: ignore[union-attr]
            status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
            response = (
                ocsp.OCSPResponseBuilder()
                .add_response(
                    cert=cert.cert,
                    issuer=issuer.cert,
                    algorithm=request.hash_algorithm,
                    cert_status=status,
                    this_update=now - timedelta(minutes=1),
                    next_update=now + timedelta(hours=1),
                    revocation_time=now - timedelta(minutes=5) if revoked else None,
                    revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
                )
                .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
                .sign(issuer.key, hashes.SHA256())
            )
        handler.reply(
            200, response.public_bytes(serialization.Encoding.DER), "application/ocsp-response"
        )

    def _error(self, handler: FakeHandler, status: int, code: int, message: str) -> None:
        data = json.dumps({"errorCode": code, "errorMessage": message}).encode()
        handler.reply(status, data)

    def _consumption(self, handler: FakeHandler, transaction_id: str, body: bytes) -> None:
        scheme, _, token = (handler.headers.get("Authorization") or "").partition(" ")
        try:
            if scheme != "Bearer":
                raise jwt.InvalidTokenError("no bearer token")
            if jwt.get_unverified_header(token).get("kid") != API_KEY_ID:
                raise jwt.InvalidTokenError("unknown key id")
            claims = jwt.decode(
                token,
                self.api_public_key,
                algorithms=["ES256"],
                audience="appstoreconnect-v1",
                issuer=API_ISSUER_ID,
                options={"require": ["exp", "iss", "aud", "bid"]},
            )
            if claims["bid"] != BUNDLE_ID:
                raise jwt.InvalidTokenError("wrong bundle id")
        except jwt.InvalidTokenError:
            handler.reply(401, b"Unauthenticated\n", "text/plain")
            return
        try:
            request = json.loads(body)
        except ValueError:
            self._error(handler, 400, 4000000, "Invalid request.")
            return
        if (
            not isinstance(request.get("customerConsented"), bool)
            or not request["customerConsented"]
        ):
            self._error(handler, 400, 4000183, "Invalid request. The customer consent is missing.")
            return
        if request.get("deliveryStatus") not in (
            "DELIVERED",
            "UNDELIVERED_QUALITY_ISSUE",
            "UNDELIVERED_WRONG_ITEM",
            "UNDELIVERED_SERVER_OUTAGE",
            "UNDELIVERED_OTHER",
        ) or not isinstance(request.get("sampleContentProvided"), bool):
            self._error(handler, 400, 4000000, "Invalid request.")
            return
        with self._lock:
            if transaction_id not in self.known_transactions:
                self._error(handler, 400, 4000006, "Invalid transaction id.")
                return
            self.consumption.append((transaction_id, request))
        handler.reply(202, b"", "text/plain")
