"""The MediaProvider registry and the `local` provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from mylivelinks import create_app
from mylivelinks.config import ConfigError
from mylivelinks.providers import REGISTRY, create_provider, media_provider
from mylivelinks.providers.base import MediaProvider
from tests.conftest import make_config
from tests.helpers import ApiClient, staff


def test_local_credentials_carry_room_identity_role_and_expiry(app):
    with app.app_context():
        provider = media_provider()
        started = datetime.now(UTC).replace(microsecond=0)
        publisher = provider.credentials("main", "alice", "publisher", timedelta(minutes=10))
        viewer = provider.credentials("main", "bob", "subscriber", timedelta(minutes=2))
        claims = provider.ex_decode(publisher.token)
        assert (claims["room"], claims["sub"], claims["role"], claims["can_publish"]) == (
            "main",
            "alice",
            "publisher",
            True,
        )
        assert provider.ex_decode(viewer.token)["can_publish"] is False
        assert viewer.expires_at - started <= timedelta(minutes=2, seconds=1)
        assert claims["exp"] == int(publisher.expires_at.timestamp())
        assert (publisher.provider, publisher.url) == ("local", "ws://127.0.0.1:7880")
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(publisher.token, "another-key-of-32-bytes-or-more-x", algorithms=["HS256"])


def test_a_media_token_is_not_an_api_token(app, api):
    with app.app_context():
        token = media_provider().credentials("main", "x", "publisher", timedelta(minutes=1)).token
    assert api.get("/api/v1/me", headers=api.bearer(token)).status_code == 401


def test_every_call_is_recorded_newest_first(app):
    with app.app_context():
        provider = media_provider()
        provider.open_room("main")
        provider.set_publishing("main", "alice", True)
        provider.set_publishing("main", "alice", False)
        provider.close_room("main")
        actions = [(c["action"], c.get("identity")) for c in provider.ex_recorded_calls(4)]
    assert actions == [
        ("close_room", None),
        ("revoke_publishing", "alice"),
        ("allow_publishing", "alice"),
        ("open_room", None),
    ]


def test_the_debug_endpoint_exists_only_in_development_for_staff_only(server_urls, app):
    development = ApiClient(create_app(make_config(server_urls, APP_ENV="development")))
    with development.app.app_context():
        media_provider().set_publishing("main", "carol", True)
    path = "/api/v1/debug/media-calls"
    assert development.get(path).status_code == 401
    user = development.register()
    assert development.get(path, headers=development.auth(user)).status_code == 403
    moderator = staff(development, development.app, "moderator")
    calls = development.get(path, headers=development.auth(moderator)).get_json()
    assert calls["provider"] == "local"
    assert calls["items"][0]["action"] == "allow_publishing"
    assert ApiClient(app).get(path, headers=development.auth(moderator)).status_code == 404


def test_the_served_document_does_not_depend_on_app_env(server_urls, app):
    development = ApiClient(create_app(make_config(server_urls, APP_ENV="development")))
    served = development.get("/openapi.json").get_json()
    assert served == ApiClient(app).get("/openapi.json").get_json()
    assert not [path for path in served["paths"] if "/debug/" in path]


def test_the_registry_refuses_unknown_providers(server_urls, app):
    assert set(REGISTRY) >= {"local"}
    with pytest.raises(ValueError, match="unknown media provider"):
        create_provider("zoom", app)
    with pytest.raises(ConfigError, match="MEDIA_PROVIDER: must be one of"):
        make_config(server_urls, MEDIA_PROVIDER="zoom")


def test_every_registered_adapter_implements_the_interface(app):
    for name in REGISTRY:
        provider = create_provider(name, app)
        assert isinstance(provider, MediaProvider)
        assert provider.name == name
        assert isinstance(provider.capabilities.server_side_publish_control, bool)
