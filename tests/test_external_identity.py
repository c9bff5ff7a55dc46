"""Bearer tokens from an external identity provider create the profile on first sight."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import func, select

from mylivelinks import create_app
from mylivelinks.config import ConfigError
from mylivelinks.extensions import db
from mylivelinks.models import Profile
from tests.conftest import make_config
from tests.helpers import ApiClient

EXTERNAL_SECRET = "external-provider-shared-secret-0123456789"
ISSUER = "https://auth.example.test/auth/v1"


def external_token(sub: str, *, key=EXTERNAL_SECRET, algorithm="HS256", headers=None, **claims):
    now = datetime.now(UTC)
    payload = {
        "sub": sub,
        "iss": ISSUER,
        "aud": "authenticated",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **claims,
    }
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


@pytest.fixture
def hs256_api(server_urls):
    app = create_app(
        make_config(
            server_urls,
            AUTH_EXTERNAL_JWT_SECRET=EXTERNAL_SECRET,
            AUTH_EXTERNAL_ISSUER=ISSUER,
            AUTH_EXTERNAL_AUDIENCE="authenticated",
        )
    )
    return ApiClient(app)


def test_first_sight_creates_the_profile_with_a_generated_username(hs256_api):
    user_id = str(uuid.uuid4())
    token = external_token(user_id, email="Zed.Smith@Example.com", name="Zed Smith")
    response = hs256_api.get("/api/v1/me", headers=hs256_api.bearer(token))
    assert response.status_code == 200
    profile = response.get_json()
    assert profile["id"] == user_id
    assert profile["username"].startswith("zed_smith_")
    assert profile["email"] == "zed.smith@example.com"
    assert profile["display_name"] == "Zed Smith"
    again = hs256_api.get("/api/v1/me", headers=hs256_api.bearer(token)).get_json()
    assert again["username"] == profile["username"]
    public = hs256_api.get(f"/api/v1/profiles/{profile['username']}")
    assert public.status_code == 200


def test_external_users_can_use_private_endpoints(hs256_api):
    star = hs256_api.register("ext_star")
    token = external_token(str(uuid.uuid4()))
    follow = hs256_api.post("/api/v1/profiles/ext_star/follow", headers=hs256_api.bearer(token))
    assert follow.status_code == 200
    assert follow.get_json()["follower_count"] == 1
    assert star["user"]["username"] == "ext_star"


def test_our_own_tokens_still_work_alongside(hs256_api):
    session = hs256_api.register()
    assert hs256_api.get("/api/v1/me", headers=hs256_api.auth(session)).status_code == 200


def _profile_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Profile))


@pytest.mark.parametrize(
    "claims",
    [
        {"key": "not-the-shared-secret-not-the-shared"},
        {"exp": -5},
        {"iss": "https://someone-else.test"},
        {"aud": "other-audience"},
        {"sub": "not-a-uuid"},
    ],
    ids=["wrong-key", "expired", "wrong-issuer", "wrong-audience", "bad-subject"],
)
def test_invalid_external_tokens_are_401_and_create_nothing(hs256_api, claims):
    if "exp" in claims:
        claims["exp"] = datetime.now(UTC) + timedelta(seconds=claims["exp"])
    token = external_token(claims.pop("sub", str(uuid.uuid4())), **claims)
    before = _profile_count(hs256_api.app)
    response = hs256_api.get("/api/v1/me", headers=hs256_api.bearer(token))
    assert response.status_code == 401
    assert _profile_count(hs256_api.app) == before


def test_an_external_token_cannot_take_over_a_password_account(hs256_api):
    victim = hs256_api.register("victim_1")
    token = external_token(victim["user"]["id"])
    assert hs256_api.get("/api/v1/me", headers=hs256_api.bearer(token)).status_code == 401


def test_non_string_claims_are_ignored(hs256_api):
    token = external_token(str(uuid.uuid4()), preferred_username=42, email=["x"], name={"a": 1})
    response = hs256_api.get("/api/v1/me", headers=hs256_api.bearer(token))
    assert response.status_code == 200
    assert response.get_json()["username"].startswith("user_")
    assert response.get_json()["email"] is None


def test_external_tokens_need_a_configured_issuer(server_urls):
    with pytest.raises(ConfigError, match="AUTH_EXTERNAL_ISSUER: is required"):
        make_config(server_urls, AUTH_EXTERNAL_JWT_SECRET=EXTERNAL_SECRET)


def test_without_configuration_external_tokens_are_refused(api):
    token = external_token(str(uuid.uuid4()))
    assert api.get("/api/v1/me", headers=api.bearer(token)).status_code == 401


@pytest.fixture
def jwks_server():
    """A JWKS endpoint on 127.0.0.1 publishing one RSA and one EC public key."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": "test-key-1", "use": "sig", "alg": "RS256"})
    ec_jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    ec_jwk.update({"kid": "ec-key", "use": "sig", "alg": "ES256"})
    body = json.dumps({"keys": [jwk, ec_jwk]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", private_key
    server.shutdown()


def test_jwks_signed_tokens_are_accepted(server_urls, jwks_server):
    url, private_key = jwks_server
    client = ApiClient(
        create_app(
            make_config(server_urls, AUTH_EXTERNAL_JWKS_URL=url, AUTH_EXTERNAL_ISSUER=ISSUER)
        )
    )
    user_id = str(uuid.uuid4())
    good = external_token(
        user_id,
        key=private_key,
        algorithm="RS256",
        headers={"kid": "test-key-1"},
        preferred_username="Kay",
    )
    response = client.get("/api/v1/me", headers=client.bearer(good))
    assert response.status_code == 200
    assert response.get_json()["id"] == user_id
    assert response.get_json()["username"].startswith("kay_")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = external_token(
        user_id, key=other_key, algorithm="RS256", headers={"kid": "test-key-1"}
    )
    assert client.get("/api/v1/me", headers=client.bearer(forged)).status_code == 401
    hs256 = external_token(user_id)  # no shared secret configured: HS256 is not accepted
    assert client.get("/api/v1/me", headers=client.bearer(hs256)).status_code == 401
    # A header claiming RS256 while naming the EC key must be refused, not crash.
    confused = external_token(
        user_id, key=private_key, algorithm="RS256", headers={"kid": "ec-key"}
    )
    assert client.get("/api/v1/me", headers=client.bearer(confused)).status_code == 401
