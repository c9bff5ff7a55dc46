"""Vendor packages stay behind their interfaces: payments in `payments/`, media in `providers/`.

Every import in the `mylivelinks` source is read with `ast`, at module level or inside a
function, under `if TYPE_CHECKING:` too: a vendor's types leaking out is a dependency on
the vendor as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import mylivelinks

ROOT = Path(mylivelinks.__file__).parent

# Top-level import name of each vendor package -> the only folder that may import it.
PAYMENTS = "payments"
PROVIDERS = "providers"
VENDOR_HOMES = {
    "stripe": PAYMENTS,
    # The official App Store Server library and Google's API client, token and OIDC
    # libraries, for the App Store and Google Play adapters.
    "appstoreserverlibrary": PAYMENTS,
    "googleapiclient": PAYMENTS,
    "google_auth_httplib2": PAYMENTS,
    "httplib2": PAYMENTS,
    "livekit": PROVIDERS,
    "agora_token_builder": PROVIDERS,
    "twilio": PROVIDERS,
}


def imported_packages(source: str) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every absolute import in `source`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def violations(relative_path: Path, source: str) -> list[str]:
    """The vendor imports of one module (path relative to the package) outside their home."""
    folder = relative_path.parts[0] if len(relative_path.parts) > 1 else None
    return [
        f"{relative_path}:{line} imports {package} (allowed only in mylivelinks/{home}/)"
        for line, package in imported_packages(source)
        if (home := VENDOR_HOMES.get(package)) is not None and folder != home
    ]


def test_vendor_packages_are_imported_only_behind_their_interface():
    found = [
        problem
        for path in sorted(ROOT.rglob("*.py"))
        for problem in violations(path.relative_to(ROOT), path.read_text())
    ]
    assert found == []


def test_the_adapters_themselves_are_where_the_vendor_imports_are():
    homes = {
        package
        for path in ROOT.rglob("*.py")
        for _, package in imported_packages(path.read_text())
        if package in VENDOR_HOMES
    }
    assert {"stripe", "livekit", "agora_token_builder", "twilio"} <= homes


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("api/coins/routes.py", "import stripe\n"),
        ("api/webhooks/routes.py", "from stripe import SignatureVerificationError\n"),
        ("jobs/payments.py", "def f():\n    import stripe.error\n"),
        ("services/rooms/live.py", "from livekit import api\n"),
        ("media_settings.py", "import twilio.rest\n"),
        ("providers/base.py", "import stripe\n"),
        ("payments/base.py", "from agora_token_builder import RtcTokenBuilder\n"),
        (
            "ledger/purchases.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import stripe\n",
        ),
    ],
)
def test_a_vendor_import_outside_its_home_is_reported(path, source):
    assert len(violations(Path(path), source)) == 1


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("payments/stripe.py", "import stripe\nfrom stripe.params.checkout import X\n"),
        ("providers/livekit.py", "from livekit import api\n"),
        ("providers/twilio.py", "from twilio.rest import Client\n"),
        ("api/coins/routes.py", "from mylivelinks.payments import stripe\n"),
        ("payments/events.py", "from . import stripe\n"),
        ("media_settings.py", 'REQUIRED = {"twilio": ("TWILIO_ACCOUNT_SID",)}\n'),
    ],
)
def test_imports_at_home_and_names_in_strings_are_allowed(path, source):
    assert violations(Path(path), source) == []
