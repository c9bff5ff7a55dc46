"""Profile, notifications, leaderboards, wallet and search pages on the running system."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import give_coins
from tests.fakes import stripe_events
from tests.money import WEBHOOK_SECRET

pytestmark = pytest.mark.real_session

STRIPE_CHECKOUT_HOST = "checkout.stripe.com"


def _gift_types(system) -> dict[str, str]:
    return {item["name"]: item["id"] for item in system.call("GET", "/gifts")["items"]}


def test_follow_a_profile_see_it_live_and_climb_the_leaderboard(system, app, open_page):
    streamer, fan = system.register("star"), system.register("fan")
    star, fan_name = streamer["user"]["username"], fan["user"]["username"]
    give_coins(app, fan, 50)
    page = open_page(f"/{star}", fan)
    expect(page.locator("h1")).to_have_text(star)
    expect(page.locator("#live-status")).to_have_attribute("data-live", "false")
    expect(page.locator("#follow")).to_have_text("Follow")
    page.click("#follow")
    expect(page.locator("#follow")).to_have_text("Unfollow")
    expect(page.locator("#follower-count")).to_have_text("1")
    page.reload()
    expect(page.locator("#follow")).to_have_attribute("aria-pressed", "true")

    system.call("POST", "/rooms/main/live", streamer, {"title": "evening show"})
    # The go-live notification reaches the fan's private stream (an RQ job fans it out).
    expect(page.locator(".notification-badge .badge")).to_have_text("1")
    page.reload()
    expect(page.locator("#live-status")).to_have_attribute("data-live", "true")
    expect(page.locator("#live-status a")).to_have_attribute("href", "/#box-1")

    page.goto("/leaderboards")
    gifters = page.locator('[data-board="gifters"]')
    expect(gifters).to_be_visible()
    gift = {
        "gift_type_id": _gift_types(system)["Star"],
        "quantity": 1,
        "room": "main",
        "position": 1,
    }
    system.call("POST", "/gifts", fan, gift)
    # Rebuilt by cron within LEADERBOARD_REBUILD_SECONDS, announced by leaderboard:updated.
    expect(gifters.locator("li", has_text=fan_name)).to_contain_text("5 coins", timeout=15_000)
    expect(page.locator('[data-board="streamers"] li', has_text=star)).to_contain_text("5 coins")

    page.goto("/notifications")
    expect(page.locator(".notifications li")).to_contain_text(f"{star} went live")
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator(".notifications li")).to_have_attribute("data-read", "true")
    expect(page.locator(".notification-badge .badge")).to_have_count(0)

    page.goto("/search")
    expect(page.locator(".results li", has_text=star)).to_contain_text("evening show")
    page.fill("#q", "no_such_streamer")
    page.press("#q", "Enter")
    expect(page.locator(".results li")).to_have_count(0)
    assert not page.errors


def test_the_wallet_shows_balances_ledger_and_packs(system, app, open_page):
    streamer, fan = system.register("star"), system.register("fan")
    give_coins(app, fan, 30)
    system.call("POST", "/rooms/main/live", streamer, {})
    gift = {
        "gift_type_id": _gift_types(system)["Diamond"],
        "quantity": 1,
        "room": "main",
        "position": 1,
    }
    system.call("POST", "/gifts", fan, gift)
    page = open_page("/wallet", fan)
    expect(page.locator("#coin-balance")).to_have_text("20")
    expect(page.locator("#frozen")).to_have_count(0)
    rows = page.get_by_role("table", name="Ledger").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("-10.00")
    expect(page.locator(".packs button")).to_have_count(12)
    expect(page.locator(".packs button").first).to_contain_text("350 coins")

    streamer_page = open_page("/wallet", streamer)
    expect(streamer_page.locator("#earnings")).to_have_text("7.00")
    assert not page.errors and not streamer_page.errors


def test_a_logged_out_visitor_sees_the_room_and_is_sent_to_log_in(system, open_page):
    streamer = system.register("star")
    system.call("POST", "/rooms/main/live", streamer, {})
    page = open_page("/")
    expect(page.locator("#box-1")).to_have_attribute("data-state", "live")
    expect(page.locator("#box-1 .open-box")).to_have_count(0)
    system.call("POST", "/rooms/main/chat", streamer, {"body": "hello visitors"})
    # The room's events are public: the page follows them without a token.
    expect(page.locator(".chat-line .body", has_text="hello visitors")).to_have_count(1)
    page.keyboard.press("Tab")  # keyboard users see where they are
    focused = "getComputedStyle(document.activeElement).outlineStyle"
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate(focused) == "solid"
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: two boxes a row
    columns = "getComputedStyle(document.querySelector('.grid')).gridTemplateColumns"
    assert len(page.evaluate(columns).split()) == 2
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto("/wallet")
    page.wait_for_url("**/login?next=%2Fwallet")
    page.goto("/nobody_here")
    expect(page.locator("h1")).to_have_text("No such profile")


def test_buying_coins_goes_through_checkout_and_the_coins_appear(system, open_page, fake_stripe):
    buyer = system.register("buyer")
    page = open_page("/wallet", buyer, also_allowed=(STRIPE_CHECKOUT_HOST,))
    # Stripe's hosted page stands in for the real one: the pay button is the test's.
    page.route(
        f"https://{STRIPE_CHECKOUT_HOST}/**",
        lambda route: route.fulfill(content_type="text/html", body="<title>Checkout</title>"),
    )
    page.locator(".packs button").first.click()
    page.wait_for_url(f"https://{STRIPE_CHECKOUT_HOST}/c/pay/*")
    session = fake_stripe.complete_session(page.url.rsplit("/", 1)[1])

    page.goto(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#checkout-state")).to_contain_text("as soon as the payment is confirmed")
    body, headers = stripe_events.signed_delivery(
        stripe_events.event("checkout.session.completed", session), WEBHOOK_SECRET
    )
    assert system.post_raw("/api/v1/webhooks/stripe", body, headers) == 200
    # The RQ worker books the coins; coins:credited reaches the page.
    expect(page.locator("#checkout-state")).to_have_text("350 coins are in your wallet.")
    expect(page.locator(".wallet-badge")).to_have_attribute("data-coins", "350")
    page.goto("/wallet")
    expect(page.get_by_role("table", name="Purchases").locator("tbody tr")).to_contain_text(
        "confirmed"
    )
    assert not page.errors
