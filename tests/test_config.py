"""Configuration: typed values from the environment, clear errors at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_type_hints

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


def test_passwords_hash_at_rfc_9106_cost_unless_told_and_never_cheapest_in_production():
    assert Config(GOOD).PASSWORD_HASH_PROFILE == "RFC_9106_LOW_MEMORY"
    assert Config({**GOOD, "PASSWORD_HASH_PROFILE": "CHEAPEST"}).PASSWORD_HASH_PROFILE == "CHEAPEST"
    with pytest.raises(ConfigError, match="PASSWORD_HASH_PROFILE: must be one of"):
        Config({**GOOD, "PASSWORD_HASH_PROFILE": "FAST"})
    production = {**GOOD, "APP_ENV": "production", "PASSWORD_HASH_PROFILE": "CHEAPEST"}
    with pytest.raises(ConfigError, match="PASSWORD_HASH_PROFILE: CHEAPEST is for test suites"):
        Config(production)


def test_create_app_refuses_a_bad_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "nonsense")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()


def _readme_settings_table() -> list[str]:
    """The variables of the README's first configuration table, in order."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1]
    table = section.split("\n\n")[2]
    return re.findall(r"^\| `([A-Z0-9_]+)` \|", table, flags=re.MULTILINE)


def test_the_readme_table_lists_exactly_the_settings():
    documented = _readme_settings_table()
    assert sorted(documented) == sorted(s.name for s in SETTINGS)
    assert len(documented) == len(set(documented))


def test_config_declares_a_typed_attribute_per_setting():
    assert set(get_type_hints(Config)) == {s.name for s in SETTINGS}


def test_every_setting_the_code_reads_is_declared():
    package = Path(__file__).parent.parent / "mylivelinks"
    reads = re.compile(r"config(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]*)\"")
    read = {
        name
        for path in package.rglob("*.py")
        for name in reads.findall(path.read_text(encoding="utf-8"))
    }
    declared = {s.name for s in SETTINGS} | set(Config(GOOD).flask_mapping())
    assert read, "the pattern no longer finds the reads"
    assert sorted(read - declared) == []


def test_event_stream_settings_take_fractions_of_a_second():
    config = Config({**GOOD, "SSE_KEEPALIVE_SECONDS": "0.5", "SSE_RETRY_MS": "250"})
    assert (config.SSE_KEEPALIVE_SECONDS, config.SSE_MAX_SECONDS) == (0.5, 3600)
    assert (config.SSE_RETRY_MS, config.EVENT_STREAM_MAXLEN) == (250, 1000)
    with pytest.raises(ConfigError, match="SSE_MAX_SECONDS"):
        Config({**GOOD, "SSE_MAX_SECONDS": "0"})
