"""Without Chromium the browser tests fail, saying how to install it; they never skip."""

from __future__ import annotations

import pytest

from tests.browser import system
from tests.processes import ROOT


def test_a_missing_chromium_fails_with_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(system, "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(RuntimeError, match="apt-get install -y chromium"):
        system.chromium_available()


def test_the_ci_entry_point_installs_chromium_before_the_suite():
    script = (ROOT / ".ci" / "run").read_text()
    install = script.index("apt-get install -y --no-install-recommends chromium")
    assert script.index("[ ! -x /usr/bin/chromium ]") < install < script.index("make test")
