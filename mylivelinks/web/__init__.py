"""The reference web client: one HTML shell and ES modules, served beside the API.

Every page is the same shell (`static/index.html`); its script picks the page from the
path and talks to the public `/api/v1` endpoints and event streams only. Page paths are
single words that are reserved usernames, so `/<username>` never hides a page and no
user can take a page's path; longer paths (`/api/...`, `/static/...`) never reach it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, abort, send_from_directory

from mylivelinks.services.accounts.usernames import RESERVED_USERNAMES, USERNAME_PATTERN

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL_PATH = "/static/web"

# Pages by path; each first segment is a reserved username (tests/test_web_routes.py).
PAGE_PATHS = (
    "/",
    "/login",
    "/signup",
    "/wallet",
    "/leaderboards",
    "/search",
    "/notifications",
    "/checkout/success",
    "/checkout/cancel",
)

# Code and styles from this origin only: no CDN, no inline script. Images may come from
# profiles' avatar URLs; a video vendor's browser SDK connects to its servers over TLS, or
# in plain text to a development server on this machine (LiveKit's on 127.0.0.1:7880).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: https:; media-src 'self' blob: mediastream:; "
    "connect-src 'self' https: wss: http://127.0.0.1:* ws://127.0.0.1:* "
    "http://localhost:* ws://localhost:*; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

blp = Blueprint("web", __name__, static_folder=str(STATIC_DIR), static_url_path=STATIC_URL_PATH)


def _shell() -> Response:
    response = send_from_directory(STATIC_DIR, "index.html", max_age=0)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _page() -> Response:
    """A page of the web client (the shell; its script renders the page of the path)."""
    return _shell()


def _profile_page(username: str) -> Response:
    """A profile page at `/<username>`: any name a user could hold, never a reserved one."""
    name = username.lower()
    if not USERNAME_PATTERN.match(name) or name in RESERVED_USERNAMES:
        abort(404)
    return _shell()


for _path in PAGE_PATHS:
    blp.add_url_rule(_path, f"page{_path.replace('/', '_')}", _page, methods=["GET"])
blp.add_url_rule("/<string:username>", "profile", _profile_page, methods=["GET"])


def init_web(app: Flask) -> None:
    """Serve the web client's pages and files on `app`."""
    app.register_blueprint(blp)
