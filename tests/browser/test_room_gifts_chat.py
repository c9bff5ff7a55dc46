"""Gifts and chat between several browser contexts, over the room's live events."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import give_coins, make_moderator

pytestmark = pytest.mark.real_session

TIMES = "\N{MULTIPLICATION SIGN}"


def test_a_gift_plays_on_every_page_and_moves_exact_coins(system, app, open_page):
    streamer, viewer = system.register("star"), system.register("fan")
    system.call("POST", "/rooms/main/live", streamer, {})
    give_coins(app, viewer, 100)
    streamer_page = open_page("/", streamer)
    viewer_page = open_page("/", viewer)
    expect(viewer_page.locator(".wallet-badge")).to_have_attribute("data-coins", "100")
    expect(streamer_page.locator(".wallet-badge")).to_have_attribute("data-centicoins", "0")

    viewer_page.get_by_label("Rocket, 20 coins, epic").check()
    viewer_page.fill("#gift-quantity", "2")
    viewer_page.select_option("#gift-target", "1")
    viewer_page.click("#send-gift")
    for page in (viewer_page, streamer_page):
        animation = page.locator("#box-1 .gift-anim")
        expect(animation).to_have_attribute("data-animation", "fireworks")
        expect(animation).to_have_class("gift-anim fireworks")
        expect(animation).to_have_attribute(
            "aria-label",
            f"{viewer['user']['username']} sent 2 {TIMES} Rocket to {streamer['user']['username']}",
        )
    expect(viewer_page.locator(".wallet-badge")).to_have_attribute("data-coins", "60")
    # 70 % of 40 coins, in hundredths of a coin, from the streamer's private stream.
    expect(streamer_page.locator(".wallet-badge")).to_have_attribute("data-centicoins", "2800")
    expect(streamer_page.locator(".chat-line[data-kind=gift]")).to_have_count(1)

    viewer_page.click("#send-gift")  # the same gift again within 10 s: a combo
    expect(streamer_page.locator('#box-1 .gift-anim[data-combo="2"]')).to_contain_text(
        f"combo {TIMES}2"
    )
    expect(streamer_page.locator(".wallet-badge")).to_have_attribute("data-centicoins", "5600")
    expect(viewer_page.locator(".wallet-badge")).to_have_attribute("data-coins", "20")

    viewer_page.get_by_label("Mansion, 100 coins, legendary").check()
    viewer_page.fill("#gift-quantity", "1")
    viewer_page.click("#send-gift")
    expect(viewer_page.get_by_role("status", name="Gift status")).to_contain_text(
        "Buy coins in your wallet"
    )
    expect(viewer_page.locator(".wallet-badge")).to_have_attribute("data-coins", "20")
    assert not streamer_page.errors and not viewer_page.errors


def test_chat_reaches_every_page_and_a_moderator_removes_it(system, app, open_page):
    author, reader = system.register("talk"), system.register("read")
    moderator = make_moderator(app, system.register("mod"))
    author_page = open_page("/", author)
    reader_page = open_page("/", reader)
    moderator_page = open_page("/", moderator)

    text = f"hello room {os.urandom(3).hex()}"
    author_page.fill("#chat-input", text)
    author_page.press("#chat-input", "Enter")
    for page in (author_page, reader_page, moderator_page):
        expect(page.locator(".chat-line .body", has_text=text)).to_have_count(1)

    line = moderator_page.locator(".chat-line", has_text=text)
    line.locator("summary").click()
    line.get_by_role("button", name="Delete").click()
    for page in (author_page, reader_page, moderator_page):
        expect(page.locator(".chat-line .body", has_text=text)).to_have_count(0)

    late_page = open_page("/", system.register("late"))  # history hides deleted messages
    author_page.fill("#chat-input", "second line")
    author_page.press("#chat-input", "Enter")
    expect(late_page.locator(".chat-line .body", has_text="second line")).to_have_count(1)
    expect(late_page.locator(".chat-line .body", has_text=text)).to_have_count(0)

    line = moderator_page.locator(".chat-line", has_text="second line")
    line.locator("summary").click()
    line.get_by_role("button", name="Time out 5 min").click()
    expect(moderator_page.get_by_role("status", name="Chat status")).to_contain_text("timed out")
    author_page.fill("#chat-input", "am I muted?")
    author_page.press("#chat-input", "Enter")
    status = author_page.get_by_role("status", name="Chat status")
    expect(status).to_have_attribute("data-kind", "error")
    expect(status).not_to_be_empty()
    expect(reader_page.locator(".chat-line .body", has_text="am I muted?")).to_have_count(0)
