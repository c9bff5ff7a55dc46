"""Media providers behind one MediaProvider interface, chosen by MEDIA_PROVIDER.

The registry maps a configuration name to "module:Class"; adapters are imported only when
selected. Business code asks `media_provider()` and never names a vendor.
"""

from __future__ import annotations

import atexit
from datetime import timedelta

from flask import Flask, current_app

from mylivelinks.providers.base import Credentials, MediaProvider, Role
from mylivelinks.registry import adapter_class

REGISTRY: dict[str, str] = {
    "local": "mylivelinks.providers.local:LocalProvider",
    "livekit": "mylivelinks.providers.livekit:LiveKitProvider",
    "agora": "mylivelinks.providers.agora:AgoraProvider",
    "twilio": "mylivelinks.providers.twilio:TwilioProvider",
}


def create_provider(name: str, app: Flask) -> MediaProvider:
    """Instantiate the adapter registered under `name` for `app`."""
    adapter = adapter_class(REGISTRY, name, MediaProvider, kind="media provider")
    return adapter.from_app(app)


def init_media_provider(app: Flask) -> None:
    """Create the configured provider once per app."""
    provider = create_provider(app.config["MEDIA_PROVIDER"], app)
    app.extensions["media_provider"] = provider
    atexit.register(provider.close)  # event loops and HTTP sessions end with the process


def media_provider() -> MediaProvider:
    """The current app's media provider."""
    return current_app.extensions["media_provider"]


def box_room(room: str, position: int | None) -> str:
    """The vendor room of a box (see MediaProvider.vendor_room)."""
    return media_provider().vendor_room(room, position)


def viewer_identity(viewer_id: object, position: int) -> str:
    """The vendor identity of a viewer's connection to one box: unique per box, since
    vendors replace an earlier session of the same identity (a client watching several
    boxes, or a streamer watching another box, must not disconnect itself)."""
    return f"{viewer_id}.{position}"


def media_credentials(room: str, identity: str, role: Role) -> Credentials:
    """Credentials from the app's provider, valid for `MEDIA_CREDENTIALS_TTL_SECONDS`."""
    ttl = timedelta(seconds=current_app.config["MEDIA_CREDENTIALS_TTL_SECONDS"])
    return media_provider().credentials(room, identity, role, ttl)
