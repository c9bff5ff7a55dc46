"""The child processes of `make run`: started, restarted with backoff when one exits, and
stopped together.

A worker or `rq cron` that exits (Redis restarted under it, a job that crashed the
interpreter) is started again after a wait that doubles with each exit in a row, from
FIRST_WAIT up to MAX_WAIT; a child that ran STEADY_SECONDS counts as recovered and its
next exit waits FIRST_WAIT again. Only the supervisor's own stop ends them for good.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("mylivelinks.dev")

FIRST_WAIT = 1.0
MAX_WAIT = 30.0
STEADY_SECONDS = 30.0


def restart_wait(exits_in_a_row: int) -> float:
    """Seconds to wait before starting a child again after its nth exit in a row (1-based)."""
    return min(MAX_WAIT, FIRST_WAIT * 2 ** (exits_in_a_row - 1))


@dataclass
class Child:
    """One supervised process: its command, the running process and its restart state."""

    name: str
    args: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    exits_in_a_row: int = 0
    restart_at: float | None = field(default=None)


class Children:
    """Starts the children, restarts those that exit, stops them all."""

    def __init__(self, env: dict[str, str], cwd: Path, preexec_fn: Callable[[], None]):
        self.env = env
        self.cwd = cwd
        self.preexec_fn = preexec_fn
        self.children: dict[str, Child] = {}

    def start(self, name: str, args: list[str]) -> None:
        """Start `args` as the child called `name` (in a session of its own)."""
        child = self.children.setdefault(name, Child(name, args))
        child.process = subprocess.Popen(
            args, env=self.env, cwd=self.cwd, start_new_session=True, preexec_fn=self.preexec_fn
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("started %s (pid %s)", name, child.process.pid)

    def any_exited(self) -> bool:
        """Whether some child is not running (exited, or waiting to be started again)."""
        return any(
            c.process is None or c.process.poll() is not None for c in self.children.values()
        )

    def supervise(self) -> None:
        """Notice children that exited and start again those whose wait is over."""
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_at is None and child.process and child.process.poll() is not None:
                steady = now - child.started_at >= STEADY_SECONDS
                child.exits_in_a_row = 1 if steady else child.exits_in_a_row + 1
                wait = restart_wait(child.exits_in_a_row)
                child.restart_at = now + wait
                log.error(
                    "%s exited with %s; restarting it in %.0f s (exit %d in a row)",
                    child.name,
                    child.process.returncode,
                    wait,
                    child.exits_in_a_row,
                )
            if child.restart_at is not None and now >= child.restart_at:
                self.start(child.name, child.args)

    def stop(self, timeout: float = 20) -> None:
        """Terminate every child, then kill those still running after `timeout` seconds."""
        running = [c for c in self.children.values() if c.process and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.terminate()
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                child.process.kill()
                child.process.wait()
        for child in self.children.values():
            child.restart_at = None
