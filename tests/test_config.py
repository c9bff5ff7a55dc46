"""Configuration: typed values from the environment, clear errors at start-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mylivelinks import create_app
from mylivelinks.config import SETTINGS, Config, ConfigError

GOOD = {
    "APP_ENV": "testing",
    "SECRET_KEY": "k" * 40,
    "DATABASE_URL": "postgresql://u@localhost/db",
    "REDIS_URL": "redis://localhost:6379/0",
}


def test_defaults_and_types():
    config = Config(GOOD)
    assert config.ACCESS_TOKEN_TTL_SECONDS == 900
    assert config.PORT == 5000
    assert config.CORS_ORIGINS == []
    assert config.DATABASE_URL == "postgresql+psycopg://u@localhost/db"
    tuned = Config(
        {**GOOD, "ACCESS_TOKEN_TTL_SECONDS": "60", "CORS_ORIGINS": "https://a.io, https://b.io"}
    )
    assert tuned.ACCESS_TOKEN_TTL_SECONDS == 60
    assert tuned.CORS_ORIGINS == ["https://a.io", "https://b.io"]


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("ACCESS_TOKEN_TTL_SECONDS", "soon", "ACCESS_TOKEN_TTL_SECONDS: must be a whole number"),
        ("ACCESS_TOKEN_TTL_SECONDS", "-5", "must be greater than zero"),
        ("PORT", "70000", "PORT: must be a TCP port"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: must be a PostgreSQL URL"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL: must be a redis://"),
        ("APP_ENV", "staging", "APP_ENV: must be one of"),
        ("AUTH_EXTERNAL_JWKS_URL", "file:///etc/keys", "must be an http(s) URL"),
    ],
)
def test_bad_values_fail_with_a_message_naming_the_variable(name, value, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        Config({**GOOD, name: value})


def test_production_requires_a_strong_secret_and_the_servers():
    with pytest.raises(ConfigError, match="SECRET_KEY: must be at least 32 characters"):
        Config({**GOOD, "APP_ENV": "production", "SECRET_KEY": "short"})
    with pytest.raises(ConfigError) as raised:
        Config({"APP_ENV": "production"})
    message = str(raised.value)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        assert f"{name}: is required" in message


def test_create_app_refuses_a_bad_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "nonsense")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()


def test_every_variable_is_documented_in_the_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert missing == []
