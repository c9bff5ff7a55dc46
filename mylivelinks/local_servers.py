"""What `make run` keeps in VAR_DIR, found again by other processes on the same machine.

`make run` writes its secret to `var/secret_key` and runs PostgreSQL in `var/pgdata` and
Redis on `var/redis/redis.sock`. A command started from the project folder with none of
SECRET_KEY, DATABASE_URL, REDIS_URL set (`flask users create-admin ...`) finds them here,
so it needs no variables; whatever is set in the environment wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "mylivelinks"


class LocalServerMissing(RuntimeError):
    """`make run`'s state is in VAR_DIR but one of its servers is not running."""


def var_dir(environ: Mapping[str, str], root: Path) -> Path:
    """Where `make run` keeps its servers' data and secret: VAR_DIR, or `root/var`."""
    return Path(environ.get("VAR_DIR") or root / "var").resolve()


def postgres_url(data_dir: Path) -> str | None:
    """The URL of the PostgreSQL running on `data_dir`, from its postmaster.pid; None when
    no server runs there."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid, port, socket_dir = int(lines[0]), lines[3].strip(), lines[4].strip()
        os.kill(pid, 0)  # a file left by a killed server names a dead process
    except (FileNotFoundError, IndexError, ValueError, ProcessLookupError):
        return None
    except PermissionError:
        pass  # alive, under another user
    if not socket_dir:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE_NAME}"
    return f"postgresql+psycopg://postgres@/{DATABASE_NAME}?host={quote(socket_dir)}&port={port}"


def with_make_run_servers(environ: Mapping[str, str], root: Path) -> dict[str, str]:
    """`environ`, with SECRET_KEY, DATABASE_URL and REDIS_URL taken from `make run`'s
    VAR_DIR where they are unset and it has them (APP_ENV then defaults to development)."""
    filled = dict(environ)
    var = var_dir(environ, root)
    key_file = var / "secret_key"
    if not filled.get("SECRET_KEY") and key_file.is_file():
        filled["SECRET_KEY"] = key_file.read_text().strip()
    pgdata = var / "pgdata"
    if not filled.get("DATABASE_URL") and pgdata.is_dir():
        url = postgres_url(pgdata)
        if url is None:
            raise LocalServerMissing(
                f"DATABASE_URL is unset and the PostgreSQL of `make run` in {pgdata} is not "
                "running: start `make run`, or set DATABASE_URL."
            )
        filled["DATABASE_URL"] = url
    redis_socket = var / "redis" / "redis.sock"
    if not filled.get("REDIS_URL") and redis_socket.is_socket():
        filled["REDIS_URL"] = f"unix://{redis_socket}"
    if filled != dict(environ):
        filled.setdefault("APP_ENV", "development")
    return filled
