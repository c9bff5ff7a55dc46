"""Settings taken from a `make run` on this machine, and what the CLI says without them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mylivelinks.local_servers import LocalServerMissing, with_make_run_servers

ROOT = Path(__file__).parent.parent


def test_nothing_changes_without_make_run_state(tmp_path):
    environ = {"VAR_DIR": str(tmp_path / "var"), "LOG_LEVEL": "INFO"}
    assert with_make_run_servers(environ, ROOT) == environ


def test_the_secret_the_running_postgres_and_the_redis_socket_are_found(tmp_path):
    var = tmp_path / "var"
    (var / "pgdata").mkdir(parents=True)
    (var / "redis").mkdir()
    (var / "secret_key").write_text("s" * 48 + "\n")
    # A live pid (this process), the port and the socket directory, as PostgreSQL writes them.
    pid_file = f"{os.getpid()}\n{var / 'pgdata'}\n1700000000\n5432\n/tmp/pg sockets\n*\n"
    (var / "pgdata" / "postmaster.pid").write_text(pid_file)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(var / "redis" / "redis.sock"))
        filled = with_make_run_servers({"VAR_DIR": str(var)}, ROOT)
    assert filled["SECRET_KEY"] == "s" * 48
    assert filled["DATABASE_URL"] == (
        "postgresql+psycopg://postgres@/mylivelinks?host=/tmp/pg%20sockets&port=5432"
    )
    assert filled["REDIS_URL"] == f"unix://{var / 'redis' / 'redis.sock'}"
    assert filled["APP_ENV"] == "development"
    given = {"VAR_DIR": str(var), "DATABASE_URL": "postgresql://db/x", "APP_ENV": "testing"}
    assert with_make_run_servers(given, ROOT)["DATABASE_URL"] == "postgresql://db/x"
    assert with_make_run_servers(given, ROOT)["APP_ENV"] == "testing"


def test_a_stopped_make_run_is_named_not_a_missing_url(tmp_path):
    var = tmp_path / "var"
    (var / "pgdata").mkdir(parents=True)
    with pytest.raises(LocalServerMissing, match="start `make run`"):
        with_make_run_servers({"VAR_DIR": str(var)}, ROOT)
    # A pid file left by a killed server names a process that is gone.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    pid = int(dead.stdout)
    (var / "pgdata" / "postmaster.pid").write_text(f"{pid}\n.\n0\n5432\n/tmp\n")
    with pytest.raises(LocalServerMissing):
        with_make_run_servers({"VAR_DIR": str(var)}, ROOT)


def test_the_cli_says_what_is_missing_in_one_line(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "APP_ENV")
    }
    env["VAR_DIR"] = str(tmp_path / "nothing")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "users", "set-role", "x", "admin"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "mylivelinks: invalid configuration" in done.stderr
    assert "DATABASE_URL: is required" in done.stderr
