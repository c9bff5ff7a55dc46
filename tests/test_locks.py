"""Locks that die with their holder: renewed while held, free soon after a killed holder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from mylivelinks.jobs.locks import renewed_lock
from tests.conftest import TEST_SECRET_KEY

ROOT = Path(__file__).parent.parent

HOLDER = """
import sys, time
from mylivelinks import create_app
from mylivelinks.jobs.locks import renewed_lock
with create_app().app_context(), renewed_lock("held-by-child", ttl=1, wait=5) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(60)
"""


def test_a_held_lock_is_renewed_past_its_ttl_and_given_back_at_the_end(app):
    with app.app_context():
        with renewed_lock("renewed", ttl=0.6, wait=0) as held:
            assert held
            time.sleep(1.5)  # well past the TTL: still ours
            with renewed_lock("renewed", ttl=0.6, wait=0) as other:
                assert not other
        with renewed_lock("renewed", ttl=0.6, wait=0) as again:
            assert again


def test_a_killed_holder_loses_the_lock_within_its_ttl(app, server_urls):
    env = {**os.environ, **server_urls, "APP_ENV": "testing", "SECRET_KEY": TEST_SECRET_KEY}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        time.sleep(2.5)  # renewed meanwhile
        with app.app_context(), renewed_lock("held-by-child", ttl=1, wait=0) as taken:
            assert not taken
        child.kill()
        child.wait()
        killed = time.monotonic()
        with app.app_context(), renewed_lock("held-by-child", ttl=1, wait=5) as taken:
            assert taken
            assert time.monotonic() - killed < 1.5
    finally:
        child.kill()
        child.wait()
