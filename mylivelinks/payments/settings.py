"""Settings of the in-app stores: the App Store (iOS) and Google Play (Android)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mylivelinks.settings_types import (
    Setting,
    parse_bool,
    parse_choice,
    parse_http_url,
    parse_positive_int,
    parse_text,
)

# Apple's environments, spelled as its library and its signed data spell them.
APPLE_ENVIRONMENTS = ("Production", "Sandbox", "Xcode", "LocalTesting")
# Data of these environments is not signed by Apple: the verifier skips every check.
APPLE_UNSIGNED_ENVIRONMENTS = ("Xcode", "LocalTesting")
GOOGLE_OIDC_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
# Google's Voided Purchases API lists no further back than this.
GOOGLE_VOIDED_MAX_DAYS = 30


def parse_directory(raw: str) -> str:
    """An existing directory."""
    path = raw.strip()
    if not Path(path).is_dir():
        raise ValueError(f"{path!r} is not a directory")
    return path


def parse_file(raw: str) -> str:
    """An existing, readable file."""
    path = raw.strip()
    if not Path(path).is_file():
        raise ValueError(f"{path!r} is not a file")
    return path


def parse_voided_lookback_days(raw: str) -> int:
    """Whole days from 1 to the 30 Google's Voided Purchases API lists."""
    days = parse_positive_int(raw)
    if days > GOOGLE_VOIDED_MAX_DAYS:
        raise ValueError(f"Google lists voided purchases of the last {GOOGLE_VOIDED_MAX_DAYS} days")
    return days


STORE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "APPLE_BUNDLE_ID",
        parse_text,
        None,
        "bundle id of the iOS app; App Store purchases and notifications answer 503 without it",
    ),
    Setting(
        "APPLE_APP_APPLE_ID",
        parse_positive_int,
        None,
        "the app's Apple ID (numeric); required in the Production environment",
    ),
    Setting(
        "APPLE_ENVIRONMENT",
        parse_choice(*APPLE_ENVIRONMENTS),
        "Production",
        "App Store environment whose signed data is accepted: Production, Sandbox, or "
        "Xcode/LocalTesting (unsigned, refused when APP_ENV=production)",
    ),
    Setting(
        "APPLE_ROOT_CERTIFICATES_DIR",
        parse_directory,
        None,
        "folder of Apple's root certificates (DER or PEM), downloaded from "
        "https://www.apple.com/certificateauthority/",
    ),
    Setting(
        "APPLE_ONLINE_CHECKS",
        parse_bool,
        True,
        "check Apple's certificates for revocation (OCSP) when verifying signed data",
    ),
    Setting("APPLE_API_KEY_ID", parse_text, None, "App Store Server API key id"),
    Setting("APPLE_API_ISSUER_ID", parse_text, None, "App Store Server API issuer id"),
    Setting(
        "APPLE_API_PRIVATE_KEY_FILE",
        parse_file,
        None,
        "the App Store Server API's private key (.p8)",
    ),
    Setting(
        "APPLE_API_URL",
        parse_http_url,
        None,
        "App Store Server API base URL override (a local fake in tests)",
    ),
    Setting(
        "APPLE_CONSUMPTION_CONSENT",
        parse_bool,
        False,
        "buyers consented to share consumption data with Apple: consumption requests are "
        "answered through the App Store Server API (else only logged)",
    ),
    Setting(
        "GOOGLE_PLAY_PACKAGE_NAME",
        parse_text,
        None,
        "package name of the Android app; Google Play purchases answer 503 without it",
    ),
    Setting(
        "GOOGLE_SERVICE_ACCOUNT_FILE",
        parse_file,
        None,
        "JSON key of the service account allowed to call the Google Play Developer API",
    ),
    Setting(
        "GOOGLE_PLAY_API_URL",
        parse_http_url,
        None,
        "Google Play Developer API base URL override (a local fake in tests)",
    ),
    Setting(
        "GOOGLE_PUBSUB_AUDIENCE",
        parse_text,
        None,
        "audience of the Pub/Sub push subscription's OIDC tokens; notifications answer 503 "
        "without it",
    ),
    Setting(
        "GOOGLE_PUBSUB_SERVICE_ACCOUNT",
        parse_text,
        None,
        "e-mail of the service account the push subscription signs its OIDC tokens as",
    ),
    Setting(
        "GOOGLE_OIDC_CERTS_URL",
        parse_http_url,
        GOOGLE_OIDC_CERTS_URL,
        "where Google's OIDC signing certificates are published",
    ),
    Setting(
        "GOOGLE_VOIDED_POLL_SECONDS",
        parse_positive_int,
        900,
        "how often Google's Voided Purchases API is read for refunds and chargebacks whose "
        "notification did not arrive (RQ cron)",
    ),
    Setting(
        "GOOGLE_VOIDED_LOOKBACK_DAYS",
        parse_voided_lookback_days,
        7,
        "how far back the first read of the Voided Purchases API looks (1 to 30 days)",
    ),
)


def store_problems(config: Any) -> list[str]:
    """Store settings that contradict each other or the app's environment."""
    problems = []
    unsigned = config.APPLE_ENVIRONMENT in APPLE_UNSIGNED_ENVIRONMENTS
    if unsigned and config.APP_ENV == "production":
        problems.append(
            f"APPLE_ENVIRONMENT: {config.APPLE_ENVIRONMENT} data is not signed by Apple and is "
            "refused in production"
        )
    if (
        config.APPLE_BUNDLE_ID
        and config.APPLE_ENVIRONMENT == "Production"
        and not config.APPLE_APP_APPLE_ID
    ):
        problems.append("APPLE_APP_APPLE_ID: is required when APPLE_ENVIRONMENT=Production")
    if config.GOOGLE_PUBSUB_AUDIENCE and not config.GOOGLE_PUBSUB_SERVICE_ACCOUNT:
        problems.append(
            "GOOGLE_PUBSUB_SERVICE_ACCOUNT: is required when GOOGLE_PUBSUB_AUDIENCE is set"
        )
    return problems
