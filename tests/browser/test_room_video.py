"""Video through LiveKit's browser SDK: the camera goes out only between publish:start
and publish:stop, and a page without the SDK says how to install it.

The API and an RQ worker run with MEDIA_PROVIDER=livekit against the fake LiveKit server;
the browser loads a stand-in of the SDK's module (tests/browser/stand_ins/), since no
LiveKit media server runs here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from tests.browser.system import Http, Worker, jwt_claims, with_redis_database
from tests.conftest import TEST_SECRET_KEY
from tests.databases import drop_database, migrated_database
from tests.event_server import EventServer
from tests.fakes.media import MediaHarness, build_harness

pytestmark = pytest.mark.real_session

SDK_PATH = "**/static/web/vendor/livekit-client.esm.mjs"
STAND_IN = Path(__file__).parent / "stand_ins" / "livekit-client.esm.mjs"
LIVEKIT_REDIS_DATABASE = 2
LIVEKIT_DATABASE = "mylivelinks_browser_livekit"


@pytest.fixture
def livekit(web_system, tmp_path) -> Iterator[tuple[Http, MediaHarness]]:
    """The API (gunicorn) and a worker selling video through the fake LiveKit, on a database
    and a Redis database of their own: the browser tests' system sweeps every stream of its
    database with its own provider and presence, and would apply this one's publishing
    first (its worker then finding nothing to do, its page never told)."""
    redis_url = with_redis_database(web_system.env["REDIS_URL"], LIVEKIT_REDIS_DATABASE)
    redis.Redis.from_url(redis_url).flushdb()
    server_url = web_system.env["DATABASE_URL"]
    urls = {
        "DATABASE_URL": migrated_database(server_url, LIVEKIT_DATABASE, redis_url),
        "REDIS_URL": redis_url,
    }
    harness = build_harness("livekit", redis_url, TEST_SECRET_KEY)
    harness.start()
    server = EventServer(urls, tmp_path / "livekit-api.log", **harness.settings())
    worker = Worker(server.env, tmp_path / "livekit-worker.log").start()
    try:
        server.start()
        yield Http(server.port), harness
    finally:
        worker.stop()
        server.stop()
        harness.stop()
        drop_database(server_url, LIVEKIT_DATABASE)


def _with_sdk(page: Page) -> Page:
    page.route(SDK_PATH, lambda route: route.fulfill(path=STAND_IN, content_type="text/javascript"))
    return page


def _calls(page: Page, at_least: int) -> list[list]:
    """The SDK calls the page made, once there are `at_least` of them."""
    page.wait_for_function("n => (window.__livekit || []).length >= n", arg=at_least)
    return page.evaluate("window.__livekit")


def test_the_camera_is_published_only_while_someone_watches(livekit, open_page):
    api, harness = livekit
    streamer, viewer = api.register("star"), api.register("fan")
    streamer_page = _with_sdk(open_page("/", streamer, server=api))
    viewer_page = _with_sdk(open_page("/", viewer, server=api))

    streamer_page.click("#go-live")
    expect(streamer_page.locator("#my-box")).to_contain_text("box 1")
    (connect,) = _calls(streamer_page, 1)
    _, url, token, options = connect
    assert url == harness.settings()["LIVEKIT_URL"] and options == {"autoSubscribe": False}
    grant = jwt_claims(token)["video"]
    assert grant["room"] == "main" and grant["canPublish"] is True
    streamer_page.reload()  # back in box 1, with fresh publisher credentials
    expect(streamer_page.locator("#my-box")).to_contain_text("box 1")
    (connect,) = _calls(streamer_page, 1)
    assert jwt_claims(connect[2])["video"]["canPublish"] is True

    viewer_page.locator("#box-1").get_by_role("button", name="Open").click()
    # This test's own worker builds its app at its first job, and the vendor calls go to a
    # fake on a busy machine: seconds, not the 2 s the local provider is held to.
    expect(streamer_page.locator("#publish-state")).to_have_attribute(
        "data-state", "publishing", timeout=20_000
    )
    assert _calls(streamer_page, 3)[1:] == [["camera", True], ["microphone", True]]
    (connect,) = _calls(viewer_page, 1)
    assert connect[1] == harness.settings()["LIVEKIT_URL"]
    assert jwt_claims(connect[2])["video"].get("canPublish") is False

    viewer_page.locator("#box-1").get_by_role("button", name="Close").click()
    expect(streamer_page.locator("#publish-state")).to_have_attribute(
        "data-state", "not-publishing", timeout=20_000
    )
    assert _calls(streamer_page, 5)[3:] == [
        ["unpublish", "camera-track", True],
        ["unpublish", "microphone-track", True],
    ]
    assert not streamer_page.errors and not viewer_page.errors


def test_without_the_sdk_the_box_says_how_to_install_it(livekit, open_page):
    api, _ = livekit
    streamer, viewer = api.register("star"), api.register("fan")
    api.call("POST", "/rooms/main/live", streamer, {})
    page = open_page("/", viewer, server=api)
    page.route(SDK_PATH, lambda route: route.fulfill(status=404, body="not installed"))
    page.locator("#box-1").get_by_role("button", name="Open").click()
    expect(page.locator("#box-1 .video-note")).to_contain_text("make web-vendor")
    expect(page.locator("#box-1")).to_have_attribute("data-state", "published")
