"""One Config, read from the environment; every variable is declared in SETTINGS."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mylivelinks.api.docs_assets import DOCS_ASSETS_PATH
from mylivelinks.events.settings import EVENT_SETTINGS
from mylivelinks.media_settings import MEDIA_SETTINGS, media_problems
from mylivelinks.payments.packs import CoinPack, load_packs
from mylivelinks.payments.settings import STORE_SETTINGS, store_problems
from mylivelinks.services.accounts.passwords import DEFAULT_PROFILE, HashProfile
from mylivelinks.settings_types import (
    Setting,
    parse_choice,
    parse_csv,
    parse_database_url,
    parse_http_url,
    parse_non_negative_int,
    parse_percent,
    parse_port,
    parse_positive_int,
    parse_rate_limit,
    parse_redis_url,
    parse_text,
    parse_timezone,
)


class ConfigError(RuntimeError):
    """A configuration value is missing or malformed; raised at start-up."""


ENVIRONMENTS = ("production", "development", "testing")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _coin_packs_file(raw: str) -> str:
    path = raw.strip()
    load_packs(path)  # a bad file stops the start-up here, with the reason
    return path


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "APP_ENV",
        parse_choice(*ENVIRONMENTS),
        "production",
        "`production`, `development` or `testing`; production insists on a strong SECRET_KEY",
    ),
    Setting(
        "SECRET_KEY",
        parse_text,
        None,
        "signs access tokens; at least 32 characters in production "
        "(`make run` keeps one in `var/secret_key`)",
    ),
    Setting(
        "DATABASE_URL",
        parse_database_url,
        None,
        "PostgreSQL URL (`postgresql://…`, served through psycopg 3); `make run` starts an "
        "embedded server when unset",
    ),
    Setting(
        "REDIS_URL",
        parse_redis_url,
        None,
        "Redis URL (`redis://`, `rediss://` or `unix://`); embedded when unset under `make run`",
    ),
    Setting("DATABASE_POOL_SIZE", parse_positive_int, 10, "connections kept per process"),
    Setting(
        "DATABASE_POOL_PING_IDLE_SECONDS",
        parse_non_negative_int,
        1,
        "test a pooled connection before use once it has been idle this long (0: on every "
        "use, one extra round trip per transaction)",
    ),
    Setting("ACCESS_TOKEN_TTL_SECONDS", parse_positive_int, 900, "lifetime of an access token"),
    Setting(
        "REFRESH_TOKEN_TTL_SECONDS",
        parse_positive_int,
        30 * 24 * 3600,
        "lifetime of a refresh token",
    ),
    Setting(
        "PASSWORD_HASH_PROFILE",
        parse_choice(*HashProfile),
        DEFAULT_PROFILE.value,
        "Argon2id cost of new password hashes, a profile of argon2-cffi: "
        "`RFC_9106_LOW_MEMORY` (64 MiB, 3 passes), `RFC_9106_HIGH_MEMORY` (2 GiB, 1 pass) or "
        "`CHEAPEST` (for test suites; refused in production)",
    ),
    Setting("JWT_ISSUER", parse_text, "mylivelinks", "`iss` claim of the access tokens we mint"),
    Setting(
        "AUTH_EXTERNAL_JWT_SECRET",
        parse_text,
        None,
        "accept HS256 bearer tokens signed with this secret from an external identity provider",
    ),
    Setting(
        "AUTH_EXTERNAL_JWKS_URL",
        parse_http_url,
        None,
        "accept RS256/ES256 bearer tokens whose keys are published at this JWKS URL",
    ),
    Setting(
        "AUTH_EXTERNAL_ISSUER",
        parse_text,
        None,
        "`iss` that external tokens must carry (required when external tokens are accepted)",
    ),
    Setting(
        "AUTH_EXTERNAL_AUDIENCE",
        parse_text,
        None,
        "required `aud` of external tokens (unchecked when unset)",
    ),
    Setting(
        "CORS_ORIGINS",
        parse_csv,
        [],
        "comma-separated origins allowed to call the API from a browser (`*` for any)",
    ),
    Setting("LOG_LEVEL", parse_choice(*LOG_LEVELS), "INFO", "root log level"),
    Setting("HOST", parse_text, "127.0.0.1", "address `make run` serves on"),
    Setting("PORT", parse_port, 5000, "port `make run` serves on"),
    Setting(
        "WEB_WORKERS",
        parse_positive_int,
        1,
        "gunicorn worker processes under `make run` (more than one aggregates /metrics "
        "through PROMETHEUS_MULTIPROC_DIR, which `make run` then sets under var/)",
    ),
    Setting(
        "COIN_PACKS_FILE",
        _coin_packs_file,
        None,
        "JSON list of coin packs (`id`, `platform`, `coins`, `price_cents`, `currency`) "
        "replacing the defaults of SPEC §5",
    ),
    Setting(
        "STRIPE_SECRET_KEY", parse_text, None, "Stripe API key; checkout answers 503 without it"
    ),
    Setting(
        "STRIPE_WEBHOOK_SECRET",
        parse_text,
        None,
        "signing secret of the Stripe webhook endpoint; webhooks answer 503 without it",
    ),
    Setting(
        "STRIPE_API_BASE",
        parse_http_url,
        "https://api.stripe.com",
        "Stripe API base URL (a local fake in tests)",
    ),
    Setting(
        "CHECKOUT_SUCCESS_URL",
        parse_http_url,
        "http://127.0.0.1:5000/checkout/success?session_id={CHECKOUT_SESSION_ID}",
        "where Stripe Checkout sends the buyer after paying",
    ),
    Setting(
        "CHECKOUT_CANCEL_URL",
        parse_http_url,
        "http://127.0.0.1:5000/checkout/cancel",
        "where Stripe Checkout sends the buyer who cancels",
    ),
    Setting(
        "CHAT_RATE_LIMIT",
        parse_rate_limit,
        "20 per 30 seconds",
        "chat messages one user may post (moderators exempt); 429 with Retry-After past it",
    ),
    Setting("GIFT_RATE_LIMIT", parse_rate_limit, "60 per minute", "gifts one user may send"),
    Setting(
        "LOGIN_RATE_LIMIT",
        parse_rate_limit,
        "10 per minute",
        "login attempts from one client address",
    ),
    Setting(
        "REGISTER_RATE_LIMIT",
        parse_rate_limit,
        "5 per minute; 20 per hour",
        "registrations from one client address",
    ),
    Setting(
        "MAX_CONTENT_LENGTH",
        parse_positive_int,
        1_048_576,
        "largest request body accepted, in bytes; a larger one is 413 before it is read",
    ),
    Setting(
        "GIFT_STREAMER_SHARE_PERCENT",
        parse_percent,
        70,
        "share of a gift's coins credited to the streamer's earnings; the platform keeps the rest",
    ),
    Setting(
        "LEADERBOARD_TIMEZONE",
        parse_timezone,
        "UTC",
        "time zone whose midnight starts a leaderboard's day, week (Monday) and month",
    ),
    Setting(
        "LEADERBOARD_REBUILD_SECONDS",
        parse_positive_int,
        60,
        "how often the leaderboards are rebuilt from the gifts (RQ cron)",
    ),
    Setting(
        "NOTIFICATION_BATCH_SIZE",
        parse_positive_int,
        1000,
        "followers notified per batch when a streamer goes live",
    ),
    Setting(
        "SCHEDULE_START_WINDOW_MINUTES",
        parse_positive_int,
        30,
        "going live this close (before or after) to a scheduled occurrence marks it started",
    ),
)
SETTINGS: tuple[Setting, ...] = CORE_SETTINGS + EVENT_SETTINGS + STORE_SETTINGS + MEDIA_SETTINGS


def setting_from_environment(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting read from the environment and parsed as Config would (for code running
    without an app, such as the cron schedule)."""
    setting = next(s for s in SETTINGS if s.name == name)
    raw = (os.environ if environ is None else environ).get(name)
    return setting.parse(raw) if raw else setting.default


class Config:
    """Application settings, parsed and validated from an environment mapping.

    One attribute per entry of SETTINGS (tests/test_config.py keeps the two in step).
    """

    APP_ENV: str
    SECRET_KEY: str | None
    DATABASE_URL: str | None
    REDIS_URL: str | None
    DATABASE_POOL_SIZE: int
    DATABASE_POOL_PING_IDLE_SECONDS: int
    ACCESS_TOKEN_TTL_SECONDS: int
    REFRESH_TOKEN_TTL_SECONDS: int
    PASSWORD_HASH_PROFILE: str
    JWT_ISSUER: str
    AUTH_EXTERNAL_JWT_SECRET: str | None
    AUTH_EXTERNAL_JWKS_URL: str | None
    AUTH_EXTERNAL_ISSUER: str | None
    AUTH_EXTERNAL_AUDIENCE: str | None
    CORS_ORIGINS: list[str]
    LOG_LEVEL: str
    HOST: str
    PORT: int
    WEB_WORKERS: int
    COIN_PACKS_FILE: str | None
    STRIPE_SECRET_KEY: str | None
    STRIPE_WEBHOOK_SECRET: str | None
    STRIPE_API_BASE: str
    CHECKOUT_SUCCESS_URL: str
    CHECKOUT_CANCEL_URL: str
    APPLE_BUNDLE_ID: str | None
    APPLE_APP_APPLE_ID: int | None
    APPLE_ENVIRONMENT: str
    APPLE_ROOT_CERTIFICATES_DIR: str | None
    APPLE_ONLINE_CHECKS: bool
    APPLE_API_KEY_ID: str | None
    APPLE_API_ISSUER_ID: str | None
    APPLE_API_PRIVATE_KEY_FILE: str | None
    APPLE_API_URL: str | None
    APPLE_CONSUMPTION_CONSENT: bool
    GOOGLE_PLAY_PACKAGE_NAME: str | None
    GOOGLE_SERVICE_ACCOUNT_FILE: str | None
    GOOGLE_PLAY_API_URL: str | None
    GOOGLE_PUBSUB_AUDIENCE: str | None
    GOOGLE_PUBSUB_SERVICE_ACCOUNT: str | None
    GOOGLE_OIDC_CERTS_URL: str
    GOOGLE_VOIDED_POLL_SECONDS: int
    GOOGLE_VOIDED_LOOKBACK_DAYS: int
    CHAT_RATE_LIMIT: str
    GIFT_RATE_LIMIT: str
    LOGIN_RATE_LIMIT: str
    REGISTER_RATE_LIMIT: str
    MAX_CONTENT_LENGTH: int
    GIFT_STREAMER_SHARE_PERCENT: int
    LEADERBOARD_TIMEZONE: str
    LEADERBOARD_REBUILD_SECONDS: int
    NOTIFICATION_BATCH_SIZE: int
    SCHEDULE_START_WINDOW_MINUTES: int
    SSE_KEEPALIVE_SECONDS: float
    SSE_MAX_SECONDS: float
    SSE_RETRY_MS: int
    SSE_MAX_LISTENERS: int
    SSE_SEND_TIMEOUT_SECONDS: float
    SSE_PRESENCE_SECONDS: float
    EVENT_STREAM_MAXLEN: int
    EVENT_TICKET_TTL_SECONDS: int
    MEDIA_PROVIDER: str
    LOCAL_MEDIA_URL: str
    VIEWER_TIMEOUT_SECONDS: int
    STREAMER_TIMEOUT_SECONDS: int
    PUBLISH_RETRY_SECONDS: list[int]
    PUBLISH_LOCK_SECONDS: int
    SWEEP_INTERVAL_SECONDS: int
    MEDIA_CREDENTIALS_TTL_SECONDS: int
    MEDIA_LEFT_GRACE_SECONDS: int
    MEDIA_VENDOR_VIEW_SECONDS: int
    PROXY_HOPS: int
    LIVEKIT_URL: str | None
    LIVEKIT_API_URL: str | None
    LIVEKIT_API_KEY: str | None
    LIVEKIT_API_SECRET: str | None
    AGORA_APP_ID: str | None
    AGORA_APP_CERTIFICATE: str | None
    AGORA_CUSTOMER_ID: str | None
    AGORA_CUSTOMER_SECRET: str | None
    AGORA_API_URL: str
    AGORA_WEBHOOK_SECRET: str | None
    AGORA_BAN_SECONDS: int
    AGORA_COHOST_AUTHENTICATION: bool
    AGORA_BAN_REQUESTS_PER_SECOND: int
    TWILIO_ACCOUNT_SID: str | None
    TWILIO_API_KEY_SID: str | None
    TWILIO_API_KEY_SECRET: str | None
    TWILIO_AUTH_TOKEN: str | None
    TWILIO_STATUS_CALLBACK_URL: str | None
    TWILIO_API_URL: str | None
    MEDIA_REVOKE_GRACE_SECONDS: int

    def __init__(self, environ: Mapping[str, str] | None = None, **overrides: Any):
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        for setting in SETTINGS:
            raw = environ.get(setting.name)
            if raw is None or raw == "":
                value = setting.default
            else:
                try:
                    value = setting.parse(raw)
                except ValueError as exc:
                    problems.append(f"{setting.name}: {exc}")
                    continue
            setattr(self, setting.name, value)
        for name, value in overrides.items():
            setattr(self, name, value)

        if not problems:
            problems = self._cross_checks()
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))

    def _cross_checks(self) -> list[str]:
        problems: list[str] = []
        if not self.DATABASE_URL:
            problems.append("DATABASE_URL: is required")
        if not self.REDIS_URL:
            problems.append("REDIS_URL: is required")
        if not self.SECRET_KEY:
            problems.append("SECRET_KEY: is required")
        elif self.APP_ENV == "production" and len(self.SECRET_KEY) < 32:
            problems.append("SECRET_KEY: must be at least 32 characters in production")
        if self.APP_ENV == "production" and self.PASSWORD_HASH_PROFILE == HashProfile.CHEAPEST:
            problems.append("PASSWORD_HASH_PROFILE: CHEAPEST is for test suites, not production")
        external = self.AUTH_EXTERNAL_JWT_SECRET or self.AUTH_EXTERNAL_JWKS_URL
        if external and not self.AUTH_EXTERNAL_ISSUER:
            problems.append("AUTH_EXTERNAL_ISSUER: is required when external tokens are accepted")
        return problems + store_problems(self) + media_problems(self)

    @property
    def coin_packs(self) -> tuple[CoinPack, ...]:
        """The coin packs on sale: COIN_PACKS_FILE's, or the defaults."""
        return load_packs(self.COIN_PACKS_FILE)

    @property
    def is_testing(self) -> bool:
        """Whether the app runs under the test suite."""
        return self.APP_ENV == "testing"

    def flask_mapping(self) -> dict[str, Any]:
        """The Flask/extension keys derived from these settings."""
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "DEBUG": self.APP_ENV == "development",
            "TESTING": self.is_testing,
            "SQLALCHEMY_DATABASE_URI": self.DATABASE_URL,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_size": self.DATABASE_POOL_SIZE,
                "max_overflow": self.DATABASE_POOL_SIZE,
                "connect_args": {"connect_timeout": 5},
            },
            "API_TITLE": "MyLiveLinks API",
            "API_VERSION": "1.0.0",
            "OPENAPI_VERSION": "3.1.0",
            "OPENAPI_URL_PREFIX": "/",
            "OPENAPI_JSON_PATH": "openapi.json",
            "OPENAPI_SWAGGER_UI_PATH": "/docs",
            "OPENAPI_SWAGGER_UI_URL": DOCS_ASSETS_PATH,
            "API_SPEC_OPTIONS": {
                "info": {
                    "description": "Group live streaming: twelve boxes in one room, chat, "
                    "coins and gifts on an exact double-entry ledger.",
                },
                "components": {
                    "securitySchemes": {
                        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                    }
                },
            },
        }
