"""`make run`'s supervisor: servers, worker, cron and API come up; SIGTERM leaves nothing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis

from mylivelinks.dev import EmbeddedRedis
from mylivelinks.supervision import restart_wait
from tests.processes import free_port

ROOT = Path(__file__).parent.parent


def _request(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _wait_ready(base: str, supervisor: subprocess.Popen, timeout: float = 90) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert supervisor.poll() is None, "the supervisor exited before being ready"
        try:
            if _request(f"{base}/readyz")[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"/readyz did not answer 200 within {timeout} s")


def _processes_of(supervisor: subprocess.Popen, var_dir: Path) -> list[psutil.Process]:
    processes = psutil.Process(supervisor.pid).children(recursive=True)
    postmaster_pid = int((var_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    return [*processes, psutil.Process(postmaster_pid)]


def _run_once(var_dir: Path, port: int, check) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"VAR_DIR": str(var_dir), "PORT": str(port), "SSE_MAX_LISTENERS": "16"})
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "mylivelinks.dev", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", supervisor)
        processes = _processes_of(supervisor, var_dir)
        names = " ".join(" ".join(p.cmdline()) for p in processes)
        for expected in ("gunicorn", "rq worker", "mylivelinks.jobs.scheduler", "redis-server"):
            assert expected in names, f"{expected} is not running"
        assert "postgres" in names
        # gunicorn's control socket is this run's own, not the one shared under $HOME.
        assert (var_dir / "gunicorn.ctl").is_socket()
        check(f"http://127.0.0.1:{port}", supervisor)
        processes = list({*processes, *_processes_of(supervisor, var_dir)})
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(60) == 0
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def _child(supervisor: subprocess.Popen, marker: str) -> psutil.Process | None:
    for process in psutil.Process(supervisor.pid).children():
        with contextlib.suppress(psutil.Error):
            if marker in " ".join(process.cmdline()):
                return process
    return None


def _children_exiting_are_restarted(supervisor: subprocess.Popen) -> None:
    """A worker or cron process that dies is started again; nothing else stops."""
    for marker in ("rq worker", "mylivelinks.jobs.scheduler"):
        dead = _child(supervisor, marker)
        assert dead is not None
        dead.kill()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            again = _child(supervisor, marker)
            if again is not None and again.pid != dead.pid:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"{marker} was not restarted within 15 s")
        assert supervisor.poll() is None


def test_run_starts_everything_stops_everything_and_keeps_data(tmp_path):
    var_dir, port = tmp_path / "var", free_port()
    account = {"username": "persisted", "email": "persisted@example.com", "password": "password1"}

    def first(base, supervisor):
        assert _request(f"{base}/api/v1/auth/register", account)[0] == 201
        assert _request(f"{base}/healthz")[0] == 200
        _children_exiting_are_restarted(supervisor)

    def second(base, supervisor):
        status, body = _request(
            f"{base}/api/v1/auth/login", {"login": "persisted", "password": "password1"}
        )
        assert status == 200, body

    _run_once(var_dir, port, first)
    _run_once(var_dir, port, second)


def _readme_cli_block() -> list[str]:
    """The commands of the README's admin CLI block, as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n.venv/bin/flask users create-admin", 1)[1].split("```", 1)[0]
    lines = (".venv/bin/flask users create-admin" + block).strip().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_the_readme_cli_block_works_as_written_with_no_variables(tmp_path):
    var_dir, port = tmp_path / "var", free_port()
    commands = _readme_cli_block()
    assert [c.split()[1:3] for c in commands] == [
        ["users", "create-admin"],
        ["users", "set-role"],
        ["ledger", "adjust"],
    ]
    account = {"username": "someone", "email": "someone@example.com", "password": "password1"}

    def check(base, supervisor):
        assert _request(f"{base}/api/v1/auth/register", account)[0] == 201
        # Only where `make run` keeps its data: no URL, no secret, no APP_ENV.
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "APP_ENV")
        }
        env["VAR_DIR"] = str(var_dir)
        for command in commands:
            done = subprocess.run(
                command,
                shell=True,
                cwd=ROOT,
                env=env,
                input="password1\npassword1\n",
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        status, body = _request(
            f"{base}/api/v1/auth/login", {"login": "boss", "password": "password1"}
        )
        assert status == 200 and body["user"]["role"] == "admin", body
        status, body = _request(
            f"{base}/api/v1/auth/login", {"login": "someone", "password": "password1"}
        )
        assert body["user"]["role"] == "moderator", body
        wallet = urllib.request.Request(
            f"{base}/api/v1/me/wallet", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        with urllib.request.urlopen(wallet, timeout=5) as response:
            assert json.loads(response.read())["coin_balance"] == 1000

    _run_once(var_dir, port, check)


def test_embedded_redis_saves_and_keeps_its_data_across_a_restart(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    client = redis.Redis.from_url(server.start())
    try:
        assert client.config_get("save") == {"save": "60 1"}
        client.set("survivor", "still here")
    finally:
        client.close()
        server.stop()
    assert (tmp_path / "redis" / "dump.rdb").exists()
    client = redis.Redis.from_url(server.start())
    try:
        assert client.get("survivor") == b"still here"
    finally:
        client.close()
        server.stop()


def test_restarts_wait_longer_after_each_exit_in_a_row_up_to_a_bound():
    assert [restart_wait(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
