"""Settings of the room, the publish controller and each video vendor."""

from __future__ import annotations

from typing import Any

from mylivelinks.providers import REGISTRY as MEDIA_PROVIDER_REGISTRY
from mylivelinks.settings_types import (
    Setting,
    parse_bool,
    parse_choice,
    parse_http_url,
    parse_media_url,
    parse_non_negative_int,
    parse_positive_int,
    parse_seconds_list,
    parse_text,
)

MEDIA_PROVIDERS = tuple(MEDIA_PROVIDER_REGISTRY)

# What each vendor cannot run without.
REQUIRED_BY_PROVIDER = {
    "livekit": ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"),
    "agora": (
        "AGORA_APP_ID",
        "AGORA_APP_CERTIFICATE",
        "AGORA_CUSTOMER_ID",
        "AGORA_CUSTOMER_SECRET",
    ),
    "twilio": (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_API_KEY_SID",
        "TWILIO_API_KEY_SECRET",
        "TWILIO_AUTH_TOKEN",
    ),
}

MEDIA_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "MEDIA_PROVIDER",
        parse_choice(*MEDIA_PROVIDERS),
        "local",
        "video provider behind the MediaProvider interface: " + ", ".join(MEDIA_PROVIDERS),
    ),
    Setting(
        "LOCAL_MEDIA_URL",
        parse_media_url,
        "ws://127.0.0.1:7880",
        "URL handed to clients in `local` provider credentials",
    ),
    Setting(
        "VIEWER_TIMEOUT_SECONDS",
        parse_positive_int,
        30,
        "a viewer without a heartbeat for this long is removed from the box",
    ),
    Setting(
        "STREAMER_TIMEOUT_SECONDS",
        parse_positive_int,
        60,
        "a streamer without a heartbeat for this long is ended and the box freed",
    ),
    Setting(
        "PUBLISH_RETRY_SECONDS",
        parse_seconds_list,
        [1, 2, 4, 8, 16],
        "waits between retries of a failed publish sync (comma-separated seconds)",
    ),
    Setting(
        "PUBLISH_LOCK_SECONDS",
        parse_positive_int,
        10,
        "lifetime of a publish sync's per-stream lock, renewed while the sync runs: how long "
        "a worker killed during a sync keeps that stream's next syncs waiting",
    ),
    Setting(
        "SWEEP_INTERVAL_SECONDS",
        parse_positive_int,
        5,
        "how often the sweep runs (RQ cron): silent viewers and streamers removed, streams "
        "out of sync queued again",
    ),
    Setting(
        "MEDIA_CREDENTIALS_TTL_SECONDS",
        parse_positive_int,
        6 * 3600,
        "lifetime of publisher and subscriber credentials",
    ),
    Setting(
        "MEDIA_LEFT_GRACE_SECONDS",
        parse_positive_int,
        20,
        "a streamer the vendor reports gone from its room is ended after this long "
        "unless they rejoin",
    ),
    Setting(
        "PROXY_HOPS",
        parse_non_negative_int,
        0,
        "reverse proxies in front of the API whose X-Forwarded-* headers are trusted "
        "(webhook URLs that vendors sign are rebuilt from them)",
    ),
    Setting(
        "MEDIA_VENDOR_VIEW_SECONDS",
        parse_positive_int,
        30,
        "how often the sweep asks the vendor who is in a room with a revoked streamer and "
        "whether it lets them publish (every sweep while a revoke is pending)",
    ),
    Setting("LIVEKIT_URL", parse_media_url, None, "LiveKit server URL handed to clients"),
    Setting(
        "LIVEKIT_API_URL",
        parse_http_url,
        None,
        "LiveKit server API base; derived from LIVEKIT_URL (wss→https) when unset",
    ),
    Setting("LIVEKIT_API_KEY", parse_text, None, "LiveKit API key"),
    Setting(
        "LIVEKIT_API_SECRET",
        parse_text,
        None,
        "LiveKit API secret (signs tokens, verifies webhooks)",
    ),
    Setting("AGORA_APP_ID", parse_text, None, "Agora App ID"),
    Setting("AGORA_APP_CERTIFICATE", parse_text, None, "Agora App Certificate (signs tokens)"),
    Setting("AGORA_CUSTOMER_ID", parse_text, None, "Agora RESTful API customer ID"),
    Setting("AGORA_CUSTOMER_SECRET", parse_text, None, "Agora RESTful API customer secret"),
    Setting(
        "AGORA_API_URL",
        parse_http_url,
        "https://api.agora.io",
        "Agora RESTful API base URL (a local fake in tests)",
    ),
    Setting(
        "AGORA_WEBHOOK_SECRET",
        parse_text,
        None,
        "Agora notification secret (verifies `Agora-Signature-V2`); webhooks answer 503 without it",
    ),
    Setting(
        "AGORA_BAN_SECONDS",
        parse_positive_int,
        6 * 3600,
        "lifetime of the kicking rule that backs a revoke on Agora; keep it at least "
        "MEDIA_CREDENTIALS_TTL_SECONDS, or an old publisher token publishes again after it",
    ),
    Setting(
        "AGORA_COHOST_AUTHENTICATION",
        parse_bool,
        False,
        "whether Agora support switched on co-host authentication for the project: only then "
        "do tokens carry the role (a viewer's token cannot publish); off, a viewer who "
        "becomes a broadcaster is stopped by a kicking rule",
    ),
    Setting(
        "AGORA_BAN_REQUESTS_PER_SECOND",
        parse_positive_int,
        10,
        "requests per second to Agora's banning (kicking-rule) API, shared by every process "
        "through Redis: Agora's limit per account",
    ),
    Setting("TWILIO_ACCOUNT_SID", parse_text, None, "Twilio account SID"),
    Setting("TWILIO_API_KEY_SID", parse_text, None, "Twilio API key SID (signs access tokens)"),
    Setting("TWILIO_API_KEY_SECRET", parse_text, None, "Twilio API key secret"),
    Setting(
        "TWILIO_AUTH_TOKEN",
        parse_text,
        None,
        "Twilio auth token (verifies `X-Twilio-Signature` on webhooks)",
    ),
    Setting(
        "TWILIO_STATUS_CALLBACK_URL",
        parse_http_url,
        None,
        "public URL of `/api/v1/webhooks/media/twilio`, given to the rooms the service creates "
        "(Twilio sends room events only there)",
    ),
    Setting(
        "TWILIO_API_URL",
        parse_http_url,
        None,
        "Twilio Video API base URL override (a local fake in tests)",
    ),
    Setting(
        "MEDIA_REVOKE_GRACE_SECONDS",
        parse_positive_int,
        10,
        "where the vendor cannot stop publishing itself (Twilio), a streamer still "
        "publishing this long after a revoke is disconnected",
    ),
)


def media_problems(config: Any) -> list[str]:
    """What the chosen vendor is missing."""
    required = REQUIRED_BY_PROVIDER.get(config.MEDIA_PROVIDER, ())
    return [
        f"{name}: is required when MEDIA_PROVIDER={config.MEDIA_PROVIDER}"
        for name in required
        if not getattr(config, name)
    ]
