"""Accounts in the browser: sign-up, log-out, log-in, and tokens refreshed mid-session."""

from __future__ import annotations

import os
import time

import pytest
from playwright.sync_api import expect

from tests.browser.system import Http
from tests.event_server import EventServer

pytestmark = pytest.mark.real_session

ACCESS_TOKEN_TTL_SECONDS = 3
STREAM_SECONDS = 2  # SSE_MAX_SECONDS: each stream ends and is reopened
RETRY_MS = 200  # SSE_RETRY_MS: how long the page waits before reopening
POSTING_SECONDS = 6  # two refreshes at least
MAX_LINES = 300  # what the page keeps


def test_sign_up_log_out_and_log_in_again(system, open_page):
    page = open_page("/signup")
    name = f"new_{os.urandom(3).hex()}"
    page.fill("#username", name)
    page.fill("#email", f"{name}@example.com")
    page.fill("#password", "short")
    page.click("button[type=submit]")
    assert page.evaluate("document.querySelector('#password').validity.valid") is False
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{system.base_url}/")
    expect(page.get_by_role("navigation").get_by_role("link", name=name)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{system.base_url}/")
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()

    page.goto("/login?next=/wallet")
    page.fill("#login", name)
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    expect(page.get_by_role("status", name="Login status")).not_to_be_empty()
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{system.base_url}/wallet")
    expect(page.locator("#coin-balance")).to_have_text("0")
    assert not page.errors


def test_streams_reopen_with_tickets_of_fresh_tokens_and_lose_nothing(system, open_page, tmp_path):
    """Tokens live 3 s and streams end after 2 s: the page refreshes its tokens before they
    expire, opens each stream again with a new event ticket got with the current token, and
    resumes after the last event seen, while chat lines keep coming."""
    short = EventServer(
        {"DATABASE_URL": system.env["DATABASE_URL"], "REDIS_URL": system.env["REDIS_URL"]},
        tmp_path / "short-tokens.log",
        ACCESS_TOKEN_TTL_SECONDS=ACCESS_TOKEN_TTL_SECONDS,
        SSE_MAX_SECONDS=STREAM_SECONDS,
        SSE_RETRY_MS=RETRY_MS,
    ).start()
    try:
        viewer = Http(short.port).register("short")
        poster = system.register("poster")
        page = open_page("/", viewer, server=Http(short.port))
        ticket_tokens: list[str] = []
        streams: list[dict[str, str]] = []
        refreshes: list[int] = []

        def seen(request) -> None:
            if request.url.endswith("/events/tickets"):
                ticket_tokens.append(request.headers.get("authorization", ""))
            elif "/rooms/main/events" in request.url:
                streams.append({"url": request.url, **request.headers})

        page.on("request", seen)
        page.on(
            "response",
            lambda response: "/auth/refresh" in response.url and refreshes.append(response.status),
        )
        lines: list[str] = []
        deadline = time.monotonic() + POSTING_SECONDS
        while time.monotonic() < deadline:  # a steady flow across refreshes and reopenings
            lines.append(f"line {len(lines):03d}")
            system.call("POST", "/rooms/main/chat", poster, {"body": lines[-1]})
            time.sleep(0.02)
        assert len(lines) <= MAX_LINES
        expect(page.locator(".chat-line .body")).to_have_count(len(lines))
        assert page.locator(".chat-line .body").all_inner_texts() == lines
        assert len(refreshes) >= 2 and set(refreshes) == {200}, refreshes
        reopened = [stream for stream in streams if "last-event-id" in stream]
        assert reopened, "the room stream was not reopened after the last event seen"
        assert len(set(ticket_tokens)) >= 2, "tickets were not got with the refreshed tokens"
        for stream in streams:  # a ticket in the URL, never a token
            assert "ticket=" in stream["url"] and "access_token" not in stream["url"]
            assert "authorization" not in stream
        page.fill("#chat-input", "still signed in")  # the session survived its first tokens
        page.press("#chat-input", "Enter")
        expect(page.locator(".chat-line .body", has_text="still signed in")).to_have_count(1)
        assert not page.errors
    finally:
        short.stop()
