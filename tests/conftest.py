"""Test fixtures: real PostgreSQL and Redis, started once per session.

Set TEST_DATABASE_URL / TEST_REDIS_URL to use existing servers instead of embedded ones;
the suite wipes that database's public schema and flushes that Redis database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.orm import scoped_session, sessionmaker

from mylivelinks import create_app
from mylivelinks.config import Config
from mylivelinks.dev import EmbeddedPostgres, EmbeddedRedis
from mylivelinks.extensions import db, get_redis
from mylivelinks.ledger.accounts import open_platform_accounts
from mylivelinks.models import Base
from mylivelinks.seed import seed_reference_data
from tests.fakes.media import MEDIA_PROVIDER_NAMES, MediaHarness, build_harness
from tests.helpers import ApiClient, staff

TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory) -> Iterator[dict[str, str]]:
    """DATABASE_URL and REDIS_URL of real servers for this test session."""
    started = []
    database_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not database_url:
        postgres = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "pgdata")
        database_url = postgres.start()
        started.append(postgres)
    if not redis_url:
        redis_server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persistent=False)
        redis_url = redis_server.start()
        started.append(redis_server)
    yield {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    for server in reversed(started):
        server.stop()


# Argon2id at its minimum cost: the suite registers thousands of accounts, and the
# production cost (about 0.1 s of CPU a hash) measures nothing any test asserts.
TEST_HASH_PROFILE = {"PASSWORD_HASH_PROFILE": "CHEAPEST"}


def make_config(server_urls: dict[str, str], **environ: str) -> Config:
    """A testing Config on the session's servers, with extra environment variables."""
    return Config(
        {
            "APP_ENV": "testing",
            "SECRET_KEY": TEST_SECRET_KEY,
            **TEST_HASH_PROFILE,
            **server_urls,
            **environ,
        }
    )


def pytest_generate_tests(metafunc):
    """Modules marked `all_media_providers` run once per provider, against its fake."""
    marked = metafunc.definition.get_closest_marker("all_media_providers")
    if marked and "media_name" in metafunc.fixturenames:
        metafunc.parametrize("media_name", MEDIA_PROVIDER_NAMES, indirect=True, scope="session")


@pytest.fixture(scope="session")
def media_name(request) -> str:
    """The media provider of the app under test (`local` unless parametrised)."""
    return getattr(request, "param", "local")


@pytest.fixture(scope="session")
def media_harness(media_name, server_urls) -> Iterator[MediaHarness]:
    """The vendor stand-in of `media_name`, started for the session."""
    harness = build_harness(media_name, server_urls["REDIS_URL"], TEST_SECRET_KEY)
    harness.start()
    yield harness
    harness.stop()


@pytest.fixture(scope="session")
def migrated(server_urls) -> None:
    """The database built by the migrations from an empty schema."""
    engine = create_engine(Config({**server_urls, "SECRET_KEY": "x" * 32}).DATABASE_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    with create_app(make_config(server_urls)).app_context():
        flask_migrate.upgrade(directory=str(Path(__file__).parent.parent / "migrations"))


@pytest.fixture(scope="session")
def app(server_urls, migrated, media_harness) -> Flask:
    """The app under test, on the migrated database, with the harness's media provider."""
    settings = {name: str(value) for name, value in media_harness.settings().items()}
    return create_app(make_config(server_urls, **settings))


def truncate_all(app: Flask) -> None:
    """Empty every table of what was committed, keeping the migration's reference rows."""
    with app.app_context():
        db.session.remove()
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        immutable = ("ledger_entries", "ledger_transactions")
        with db.engine.begin() as conn:
            # The ledger refuses TRUNCATE; the table owner lifts that for the clean-up only.
            for table in immutable:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_immutable"))
            conn.execute(text(f"TRUNCATE {tables} CASCADE"))
            for table in immutable:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_immutable"))
        open_platform_accounts()  # reference rows the migration created
        db.session.commit()


@pytest.fixture(autouse=True)
def _isolated(request, app) -> Iterator[None]:
    """Run each test inside one transaction that is rolled back afterwards.

    Requests commit to SAVEPOINTs of that transaction. Tests marked `real_session` get the
    real session instead (for concurrency with separate connections) and are cleaned up
    by truncating every table.
    """
    with app.app_context():
        get_redis().flushdb()
    if "media_harness" in request.fixturenames:
        request.getfixturevalue("media_harness").reset()
    if request.node.get_closest_marker("real_session"):
        yield
        truncate_all(app)
        return
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    real_session = db.session
    db.session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    )
    try:
        yield
    finally:
        db.session.remove()
        db.session = real_session
        outer.rollback()
        connection.close()


@pytest.fixture(
    params=[pytest.param("autocommit", marks=pytest.mark.real_session), "one_transaction"]
)
def gift_mode(request) -> str:
    """How the gift commits: each statement as it runs (no Idempotency-Key, as production
    does; on the real session, since a rolled-back test transaction cannot autocommit), or
    in one transaction with its stored response (an Idempotency-Key)."""
    return request.param


@pytest.fixture
def api(app) -> ApiClient:
    """An HTTP client of the app with account helpers."""
    return ApiClient(app)


@pytest.fixture
def main_room(app) -> str:
    """The reference data (room `main` with 12 boxes, the gift catalog) committed; "main"."""
    with app.app_context():
        list(seed_reference_data())
        db.session.commit()
    return "main"


@pytest.fixture
def moderator(api, app) -> dict:
    """A registered moderator's session."""
    return staff(api, app, "moderator")


@pytest.fixture(scope="session")
def fake_stripe():
    """A Stripe API stand-in on 127.0.0.1 that checks the API key like Stripe does."""
    from tests.fakes.stripe_server import FakeStripe
    from tests.money import STRIPE_KEY

    with FakeStripe(STRIPE_KEY) as server:
        yield server


@pytest.fixture(scope="session")
def pay_app(server_urls, fake_stripe) -> Flask:
    """The app configured for Stripe against the fake server (same database as `app`)."""
    from tests.money import STRIPE_KEY, WEBHOOK_SECRET

    return create_app(
        make_config(
            server_urls,
            STRIPE_SECRET_KEY=STRIPE_KEY,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE=fake_stripe.base_url,
        )
    )


@pytest.fixture
def pay_api(pay_app, app) -> ApiClient:
    """An HTTP client of `pay_app` (the `app` fixture made sure the schema exists)."""
    return ApiClient(pay_app)


@pytest.fixture(scope="session")
def fake_app_store():
    """Apple's OCSP responder and App Store Server API on 127.0.0.1, with a test PKI."""
    from tests.fakes.apple_store import ApplePki, FakeAppStore
    from tests.store_money import APPLE_API_KEY

    with FakeAppStore(APPLE_API_KEY.public_key()) as server:
        server.pki = ApplePki.create(server.ocsp_url)
        yield server


@pytest.fixture(scope="session")
def fake_google_play():
    """Google's token endpoint, Android Publisher API and OIDC certificates on 127.0.0.1."""
    from tests.fakes.google_play import FakeGooglePlay

    with FakeGooglePlay() as server:
        yield server


@pytest.fixture(scope="session")
def store_app(server_urls, migrated, fake_app_store, fake_google_play, tmp_path_factory) -> Flask:
    """The app selling the mobile packs through the fake App Store and Google Play."""
    from tests.store_money import store_settings

    folder = tmp_path_factory.mktemp("stores")
    settings = store_settings(folder, fake_app_store, fake_google_play)
    return create_app(make_config(server_urls, **settings))


@pytest.fixture
def store_api(store_app, app, fake_app_store, fake_google_play) -> ApiClient:
    """An HTTP client of `store_app`; the fakes forget faults and recorded calls."""
    with fake_google_play._lock:
        fake_google_play._forget_faults()
    fake_app_store.consumption.clear()
    return ApiClient(store_app)
