"""Screenshots of the pages with live data; `make screenshots` keeps them in docs/screenshots.

In the suite they go to a temporary directory: the test proves the pages render a live
room, a gift in flight, a profile, a wallet and the leaderboards.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import give_coins

pytestmark = pytest.mark.real_session

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = ("Ava", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus")


def _set_profile(system, session: dict, name: str) -> None:
    system.call("PATCH", "/me", session, {"display_name": name, "bio": f"{name} streams nightly."})


def test_screenshots_of_the_pages(system, app, open_page, tmp_path):
    out = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    streamers = [system.register(name.lower()) for name in NAMES]
    for name, streamer in zip(NAMES, streamers, strict=True):
        _set_profile(system, streamer, name)
        system.call("POST", "/rooms/main/live", streamer, {"title": f"{name} live"})
    fan = system.register("fan")
    give_coins(app, fan, 500)
    gifts = {item["name"]: item["id"] for item in system.call("GET", "/gifts")["items"]}
    for position in (2, 4):
        system.call("POST", f"/rooms/main/boxes/{position}/viewers", fan)
    for name, position in (("Crown", 1), ("Rose", 3), ("Rocket", 2)):
        gift = {"gift_type_id": gifts[name], "quantity": 2, "room": "main", "position": position}
        system.call("POST", "/gifts", fan, gift)
    for line in ("hi everyone!", "Ava is on fire tonight", "who's up next?"):
        system.call("POST", "/rooms/main/chat", fan, {"body": line})

    page = open_page("/", fan)
    page.emulate_media(reduced_motion="reduce")  # the gift stays in place for the picture
    expect(page.locator("#box-2")).to_have_attribute("data-state", "published")
    page.get_by_label("Mansion, 100 coins, legendary").check()
    page.select_option("#gift-target", "2")
    page.click("#send-gift")
    expect(page.locator("#box-2 .gift-anim")).to_be_visible()
    page.screenshot(path=out / "room.png")

    page.goto(f"/{streamers[0]['user']['username']}")
    expect(page.locator("#live-status")).to_have_attribute("data-live", "true")
    page.screenshot(path=out / "profile.png")

    page.goto("/wallet")
    expect(page.locator("#coin-balance")).to_have_text("258")
    page.screenshot(path=out / "wallet.png")

    page.goto("/leaderboards")
    expect(page.locator('[data-board="gifters"] li').first).to_contain_text(
        "242 coins", timeout=15_000
    )
    page.screenshot(path=out / "leaderboards.png")

    for name in ("room", "profile", "wallet", "leaderboards"):
        data = (out / f"{name}.png").read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, name
