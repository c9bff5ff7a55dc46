"""The room in Chromium: going live, demand-based publishing, the queue, live updates."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.real_session


def test_a_viewer_opening_a_box_makes_the_streamer_publish(system, open_page):
    streamer, viewer = system.register("star"), system.register("fan")
    streamer_page = open_page("/", streamer)
    viewer_page = open_page("/", viewer)

    streamer_page.click("#go-live")
    expect(streamer_page.locator("#my-box")).to_contain_text("box 1")
    expect(streamer_page.locator("#publish-state")).to_have_attribute(
        "data-state", "not-publishing"
    )
    box = viewer_page.locator("#box-1")
    expect(box).to_have_attribute("data-state", "live")  # from the room's events
    expect(box.locator(".profile-link")).to_have_text(streamer["user"]["username"])

    box.get_by_role("button", name="Open").focus()  # by keyboard
    viewer_page.keyboard.press("Enter")
    opened_at = time.monotonic()
    expect(streamer_page.locator("#publish-state")).to_have_attribute(
        "data-state", "publishing", timeout=2000
    )
    assert time.monotonic() - opened_at < 2
    expect(box).to_have_attribute("data-state", "published")
    expect(box).to_have_attribute("data-viewers", "1")
    expect(streamer_page.locator("#my-viewers")).to_have_text("1 watching")

    box.get_by_role("button", name="Close").click()
    expect(streamer_page.locator("#publish-state")).to_have_attribute(
        "data-state", "not-publishing", timeout=2000
    )
    expect(box).to_have_attribute("data-state", "live")
    expect(box).to_have_attribute("data-viewers", "0")
    assert not streamer_page.errors and not viewer_page.errors


def test_the_thirteenth_streamer_waits_in_the_queue_and_is_seated(system, open_page):
    seated = [system.register(f"box{position}") for position in range(1, 13)]
    for streamer in seated:
        system.call("POST", "/rooms/main/live", streamer, {})
    late = system.register("late")
    page = open_page("/", late)
    expect(page.locator("#box-12")).to_have_attribute("data-state", "live")

    page.click("#go-live")
    expect(page.locator("#queue-place")).to_have_attribute("data-place", "1")
    expect(page.locator("#queue-length")).to_have_attribute("data-queue-length", "1")
    page.reload()  # the place is read again, not lost with the page
    expect(page.locator("#queue-place")).to_have_attribute("data-place", "1")

    system.call("DELETE", "/rooms/main/live", seated[4])  # box 5 frees
    expect(page.locator("#my-box")).to_have_text("You are live in box 5.")
    expect(page.locator("#queue-place")).to_have_count(0)
    expect(page.locator("#queue-length")).to_have_attribute("data-queue-length", "0")
    expect(page.locator("#box-5 .profile-link")).to_have_text(late["user"]["username"])
    assert not page.errors


def test_open_boxes_heartbeat_together_until_the_last_one_closes(system, open_page):
    first, second, viewer = system.register("one"), system.register("two"), system.register("fan")
    for streamer in (first, second):
        system.call("POST", "/rooms/main/live", streamer, {})
    page = open_page("/", viewer)
    beats: list[dict] = []
    page.on(
        "request",
        lambda request: (
            request.url.endswith("/rooms/main/heartbeat") and beats.append(request.post_data_json)
        ),
    )
    page.clock.install()  # the page's timers run when the test says so
    page.locator("#box-1").get_by_role("button", name="Open").click()
    page.locator("#box-2").get_by_role("button", name="Open").click()
    expect(page.locator("#box-2 .open-box")).to_have_attribute("aria-pressed", "true")
    page.clock.run_for(12_500)
    page.clock.run_for(12_500)
    page.wait_for_timeout(300)
    assert [sorted(beat["positions"]) for beat in beats] == [[1, 2], [1, 2]]

    page.locator("#box-1").get_by_role("button", name="Close").click()
    expect(page.locator("#box-1 .open-box")).to_have_attribute("aria-pressed", "false")
    page.clock.run_for(12_500)
    page.wait_for_timeout(300)
    assert beats[-1] == {"positions": [2]}
    page.locator("#box-2").get_by_role("button", name="Close").click()
    expect(page.locator("#box-2 .open-box")).to_have_attribute("aria-pressed", "false")
    count = len(beats)
    page.clock.run_for(60_000)
    page.wait_for_timeout(300)
    assert len(beats) == count, "heartbeats went on with no box open"
