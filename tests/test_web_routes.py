"""The web client's routes: pages served beside the API without hiding any of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mylivelinks.services.accounts.usernames import RESERVED_USERNAMES
from mylivelinks.web import CONTENT_SECURITY_POLICY, PAGE_PATHS, STATIC_DIR, STATIC_URL_PATH

SHELL_MARK = b'<script type="module" src="/static/web/app.js">'


def _is_shell(response) -> bool:
    return response.status_code == 200 and SHELL_MARK in response.data


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_every_page_is_the_shell_with_a_strict_policy(api, path):
    response = api.get(path)
    assert _is_shell(response)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.mimetype == "text/html"


def test_a_profile_path_serves_the_shell_for_any_possible_username(api):
    assert _is_shell(api.get("/some_streamer"))
    assert _is_shell(api.get("/Some_Streamer"))  # usernames compare case-insensitively


@pytest.mark.parametrize(
    "path", ["/ab", "/" + "a" * 31, "/has-dash", "/login.php", "/api", "/docs", "/static"]
)
def test_paths_no_username_can_take_are_not_profiles(api, path):
    assert not _is_shell(api.get(path))


def test_operational_and_api_paths_are_not_hidden_by_pages(api, main_room):
    assert api.get("/healthz").get_json() == {"status": "ok"}
    assert api.get("/openapi.json").get_json()["openapi"].startswith("3.")
    assert b"swagger" in api.get("/docs").data.lower()
    assert api.get("/metrics").status_code == 200
    assert api.get("/api/v1/rooms/main").get_json()["slug"] == "main"
    assert api.post("/api/v1/webhooks/stripe", data=b"{}").status_code in (400, 503)
    unknown = api.get("/api/v1/nothing_here")
    assert unknown.status_code == 404 and unknown.is_json


def test_page_paths_and_every_other_route_are_reserved_usernames(app):
    """No user can take a name that a page or another route of the app already uses."""
    for path in PAGE_PATHS[1:]:
        assert path.split("/")[1] in RESERVED_USERNAMES, path
    first_segments = {
        rule.rule.split("/")[1]
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "web.profile" and not rule.rule.startswith("/<")
    }
    first_segments.discard("")
    taken = {segment.split(".")[0] for segment in first_segments}
    assert taken <= RESERVED_USERNAMES, taken - RESERVED_USERNAMES


def test_static_modules_are_served_and_load_nothing_from_elsewhere(api):
    files = sorted(path for path in STATIC_DIR.iterdir() if path.is_file())  # not vendor/
    assert {"index.html", "app.js", "style.css"} <= {path.name for path in files}
    for path in files:
        response = api.get(f"{STATIC_URL_PATH}/{path.name}")
        assert response.status_code == 200, path.name
        expected = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
        assert response.mimetype == expected[path.suffix]
        text = path.read_text()
        # Imports and resources are same-origin paths: no CDN, no absolute URL.
        assert not re.search(r"""(import|from|src=|href=|url\()\s*["']?(https?:)?//""", text)
        for module in re.findall(r"""from\s+["'](\./[\w.]+)["']""", text):
            assert (STATIC_DIR / module).is_file(), f"{path.name} imports missing {module}"


def test_the_web_files_ship_in_the_package():
    setup = (Path(__file__).parent.parent / "setup.cfg").read_text()
    assert "mylivelinks.web = static/*" in setup


def test_vendored_browser_code_is_recorded_with_version_and_licence():
    """What `make web-vendor` installs is pinned in vendor.json, where media.js loads it."""
    records = json.loads((STATIC_DIR.parent / "vendor.json").read_text())
    media = (STATIC_DIR / "media.js").read_text()
    for name, record in records.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", record["version"]), name
        assert record["license"] and record["file"].startswith("dist/")
        installed = Path(record["installed_as"])
        assert installed.parent == Path("mylivelinks/web/static/vendor")
        assert f'"./vendor/{installed.name}"' in media
    ignored = (Path(__file__).parent.parent / ".gitignore").read_text().splitlines()
    assert "mylivelinks/web/static/vendor/" in ignored
