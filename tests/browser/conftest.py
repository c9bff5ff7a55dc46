"""Browser tests: Chromium (Debian's package, driven by Playwright) on the whole system.

The system (API, RQ worker, cron) is started once for the browser tests on the
session's PostgreSQL; each test commits for real (`real_session`: tables truncated after)
and re-seeds room `main`. Every request a page makes is recorded, and one to anywhere
but the system's own 127.0.0.1 address fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser.system import (
    CHROMIUM_ARGS,
    SESSION_KEY,
    Http,
    WebSystem,
    chromium_available,
    stored_session,
    with_redis_database,
)
from tests.money import STRIPE_KEY, WEBHOOK_SECRET

SYSTEM_REDIS_DATABASE = 1
ALLOWED_SCHEMES = ("data", "blob")

OpenPage = Callable[..., Page]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; a missing one fails every browser test with how to install it."""
    return chromium_available()


@pytest.fixture(scope="package")
def browser(chromium: Path) -> Iterator[Browser]:
    """One headless Chromium for the browser tests (Playwright's sync API keeps an asyncio
    loop running in this thread until it stops, which other tests' loops cannot share)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def web_system(server_urls, migrated, fake_stripe, tmp_path_factory) -> Iterator[WebSystem]:
    """The whole system on the session's PostgreSQL and its own Redis database, selling
    coins through the fake Stripe; stopped once the browser tests are done, so its cron's
    sweeps never touch what the rest of the suite commits."""
    redis_url = with_redis_database(server_urls["REDIS_URL"], SYSTEM_REDIS_DATABASE)
    redis.Redis.from_url(redis_url).flushdb()
    system = WebSystem(
        {
            "DATABASE_URL": server_urls["DATABASE_URL"],
            "REDIS_URL": redis_url,
            "LOGIN_RATE_LIMIT": "1000 per minute",
            "REGISTER_RATE_LIMIT": "1000 per minute",
            "CHAT_RATE_LIMIT": "1000 per minute",
            "LEADERBOARD_REBUILD_SECONDS": "3",
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": fake_stripe.base_url,
        },
        tmp_path_factory.mktemp("web-system"),
    )
    checkout = f"{system.base_url}/checkout"
    system.env["CHECKOUT_SUCCESS_URL"] = f"{checkout}/success?session_id={{CHECKOUT_SESSION_ID}}"
    system.env["CHECKOUT_CANCEL_URL"] = f"{checkout}/cancel"
    try:
        system.start()
    except BaseException:
        system.stop()
        raise
    yield system
    system.stop()


@pytest.fixture
def system(web_system: WebSystem, main_room: str) -> WebSystem:
    """The running system, with room `main` and the catalog seeded for this test."""
    return web_system


@pytest.fixture
def open_page(browser: Browser, web_system: WebSystem) -> Iterator[OpenPage]:
    """Open `path` in a new browser context, signed in as `session` (a login answer) if
    given; every request of every context is checked to go to the server itself (or to
    one of `also_allowed`, host names a test stands in for)."""
    contexts: list[tuple[BrowserContext, list[str], set[str]]] = []

    def open_(
        path: str = "/",
        session: dict | None = None,
        server: Http | None = None,
        also_allowed: tuple[str, ...] = (),
    ) -> Page:
        base = (server or web_system).base_url
        storage: dict = {"cookies": [], "origins": []}
        if session is not None:
            value = json.dumps(stored_session(session))
            storage["origins"] = [
                {"origin": base, "localStorage": [{"name": SESSION_KEY, "value": value}]}
            ]
        context = browser.new_context(
            base_url=base, storage_state=storage, viewport={"width": 1440, "height": 900}
        )
        context.set_default_timeout(10_000)
        urls: list[str] = []
        context.on("request", lambda request: urls.append(request.url))
        contexts.append((context, urls, {urlsplit(base).netloc, *also_allowed}))
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # type: ignore[attr-defined]
        page.goto(path)
        page.wait_for_selector("body[data-ready]")
        assert page.get_attribute("body", "data-ready") == "true", page.inner_text("main")
        return page

    yield open_
    try:
        for _context, urls, allowed in contexts:
            elsewhere = [
                url
                for url in urls
                if urlsplit(url).scheme not in ALLOWED_SCHEMES
                and urlsplit(url).netloc not in allowed
            ]
            assert not elsewhere, f"requests beyond {allowed}: {elsewhere}"
            assert urls, "the page made no request at all"
    finally:
        for context, _, _ in contexts:
            context.close()
