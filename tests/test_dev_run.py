"""`make run`'s supervisor: servers, worker, cron and API come up; SIGTERM leaves nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import redis

from mylivelinks.dev import EmbeddedRedis
from mylivelinks.supervision import restart_wait
from tests.processes import (
    ROOT,
    ChildProcess,
    JsonClient,
    free_port,
    inherited_environment,
    wait_until,
)


def _processes_of(supervisor: ChildProcess, var_dir: Path) -> list[psutil.Process]:
    processes = psutil.Process(supervisor.pid).children(recursive=True)
    postmaster_pid = int((var_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    return [*processes, psutil.Process(postmaster_pid)]


def _run_once(var_dir: Path, port: int, check) -> None:
    env = inherited_environment()
    env.update({"VAR_DIR": str(var_dir), "PORT": str(port), "SSE_MAX_LISTENERS": "16"})
    command = [sys.executable, "-m", "mylivelinks.dev", "run"]
    supervisor = ChildProcess("make run", command, env, var_dir.parent / "run.log").start()
    assert supervisor.process is not None
    try:
        supervisor.wait_ready(JsonClient(port), 90)
        processes = _processes_of(supervisor, var_dir)
        names = " ".join(" ".join(p.cmdline()) for p in processes)
        for expected in ("gunicorn", "rq worker", "mylivelinks.jobs.scheduler", "redis-server"):
            assert expected in names, f"{expected} is not running"
        assert "postgres" in names
        # gunicorn's control socket is this run's own, not the one shared under $HOME.
        assert (var_dir / "gunicorn.ctl").is_socket()
        check(JsonClient(port, prefix="/api/v1"), supervisor)
        processes = list({*processes, *_processes_of(supervisor, var_dir)})
        supervisor.process.send_signal(signal.SIGTERM)
        assert supervisor.process.wait(60) == 0
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert alive == [], f"left behind: {[p.cmdline() for p in alive]}"
    finally:
        supervisor.stop(signal.SIGKILL, grace=10)


def _children_exiting_are_restarted(supervisor: ChildProcess) -> None:
    """A worker or cron process that dies is started again; nothing else stops."""
    for marker in ("rq worker", "mylivelinks.jobs.scheduler"):
        dead = supervisor.child(marker)
        assert dead is not None

        def restarted(marker: str = marker, dead: psutil.Process = dead) -> bool:
            again = supervisor.child(marker)
            return again is not None and again.pid != dead.pid

        dead.kill()
        wait_until(restarted, 15, f"{marker} restarted", detail=supervisor.log)
        assert supervisor.running()


def test_run_starts_everything_stops_everything_and_keeps_data(tmp_path):
    var_dir, port = tmp_path / "var", free_port()
    account = {"username": "persisted", "email": "persisted@example.com", "password": "password1"}

    def first(api: JsonClient, supervisor: ChildProcess) -> None:
        assert api.request("POST", "/auth/register", account).status == 201
        assert JsonClient(api.port).request("GET", "/healthz").status == 200
        _children_exiting_are_restarted(supervisor)

    def second(api: JsonClient, supervisor: ChildProcess) -> None:
        reply = api.request("POST", "/auth/login", {"login": "persisted", "password": "password1"})
        assert reply.status == 200, reply

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

    def check(api: JsonClient, supervisor: ChildProcess) -> None:
        assert api.request("POST", "/auth/register", account).status == 201
        # Only where `make run` keeps its data: no URL, no secret, no APP_ENV.
        env = inherited_environment("SECRET_KEY", "APP_ENV")
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
        reply = api.request("POST", "/auth/login", {"login": "boss", "password": "password1"})
        assert reply.status == 200 and reply.body["user"]["role"] == "admin", reply
        reply = api.request("POST", "/auth/login", {"login": "someone", "password": "password1"})
        assert reply.body["user"]["role"] == "moderator", reply
        wallet = api.request("GET", "/me/wallet", token=reply.body["access_token"])
        assert wallet.body["coin_balance"] == 1000

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


def test_embedded_redis_is_ready_as_soon_as_it_answers(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    asked = time.monotonic()
    server.start()
    took = time.monotonic() - asked
    server.stop()
    # Its pings before the socket exists fail at once: redis-py's default retries would
    # back off for about 2 s on each (4 s or more in all).
    assert took < 1.5, f"embedded Redis took {took:.1f} s to start"


def test_restarts_wait_longer_after_each_exit_in_a_row_up_to_a_bound():
    assert [restart_wait(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
