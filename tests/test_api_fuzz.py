"""The API fuzzed from its own OpenAPI document (schemathesis) on the real app, PostgreSQL and
Redis: no answer is a 5xx, every status is documented, every body matches its schema.

Each operation gets valid and invalid requests (seeded, so a run is reproducible) from an
anonymous caller, a user, a guest, a moderator and an admin, with path parameters drawn
from the document's patterns or naming what exists (the main room, the user). Event
streams are left out: they never end, and tests/test_sse.py covers them.
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mylivelinks import create_app
from tests.conftest import make_config, truncate_all
from tests.helpers import ApiClient, staff

DOCUMENT = Path(__file__).parent.parent / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(str(DOCUMENT))
# Examples per operation (set API_FUZZ_EXAMPLES for a longer run) and a bound on each
# operation's time, so the suite stays quick on a small machine.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "300"))
SECONDS_PER_OPERATION = float(os.environ.get("API_FUZZ_SECONDS", "1.5"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
STREAMING = ("/events",)


class _TimeUp(Exception):
    """Ends an operation's examples once its time is spent (Hypothesis has no time budget)."""


def _operations() -> list[str]:
    labels = []
    for result in SCHEMA.get_all_operations():
        operation = result.ok()
        if not operation.path.endswith(STREAMING):
            labels.append(operation.label)
    return labels


def _caller_of(case, headers: list[dict]) -> dict:
    """One of the callers, chosen from the case's content: spread evenly (Hypothesis' own
    choices favour the first item) and the same when a failing case is replayed."""
    drawn = repr((case.path_parameters, case.query, case.headers, case.body))
    return headers[zlib.crc32(drawn.encode("utf-8", "surrogatepass")) % len(headers)]


@pytest.fixture(scope="module")
def fuzz_app(
    server_urls, app, fake_stripe, fake_app_store, fake_google_play, tmp_path_factory
) -> Flask:
    """The app with every store configured against its fake (an unconfigured store answers
    503) and rate limits out of the way (their 429s have their own tests; here they would
    stop most requests from reaching the views)."""
    from tests.money import STRIPE_KEY, WEBHOOK_SECRET
    from tests.store_money import store_settings

    generous = "100000 per minute"
    stores = store_settings(
        tmp_path_factory.mktemp("fuzz-stores"), fake_app_store, fake_google_play
    )
    return create_app(
        make_config(
            server_urls,
            **stores,
            STRIPE_SECRET_KEY=STRIPE_KEY,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE=fake_stripe.base_url,
            LOGIN_RATE_LIMIT=generous,
            REGISTER_RATE_LIMIT=generous,
            CHAT_RATE_LIMIT=generous,
            GIFT_RATE_LIMIT=generous,
        )
    )


@pytest.fixture(scope="module")
def callers(fuzz_app, app) -> Iterator[dict]:
    """Accounts committed once for the module (each test's own writes are rolled back):
    the bearer headers of each kind of caller, and names that exist."""
    client = ApiClient(fuzz_app)
    user = client.register()
    moderator, admin = staff(client, fuzz_app, "moderator"), staff(client, fuzz_app, "admin")
    guest = client.post("/api/v1/auth/guest").get_json()
    yield {
        "headers": [
            {},
            client.auth(user),
            client.bearer(guest["access_token"]),
            client.auth(moderator),
            client.auth(admin),
        ],
        "known": {
            "slug": "main",
            "username": user["user"]["username"],
            "provider": fuzz_app.config["MEDIA_PROVIDER"],
            "board": "streamers",
        },
    }
    truncate_all(app)


@pytest.mark.parametrize("label", _operations())
def test_every_answer_is_documented(fuzz_app, callers, main_room, label):
    method, path = label.split(" ", 1)
    operation = SCHEMA[path][method]
    known = {name: value for name, value in callers["known"].items() if f"{{{name}}}" in path}
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=known),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    deadline = time.monotonic() + SECONDS_PER_OPERATION
    statuses: Counter[int] = Counter()

    @seed(21)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def exchange(case):
        # Once a request failed, Hypothesis replays it to report it: let that replay run.
        if time.monotonic() > deadline and not failures:
            raise _TimeUp
        generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers = {**generated, **_caller_of(case, callers["headers"])}
        response = case.call(app=fuzz_app)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception:
            failures.append(case)
            raise

    failures: list = []
    with contextlib.suppress(_TimeUp):  # the time is spent; all answered so far was right
        exchange()
    print(label, sum(statuses.values()), dict(statuses))
    assert statuses, "no request was made"
