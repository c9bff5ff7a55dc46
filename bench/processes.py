"""What the machine's processes are and use, read from Linux's /proc.

`process_table` lists every process (parent, command line, CPU seconds so far); on it rest
the CPU per role (`CpuMeter`, `cpu_seconds_of`) and the finding of the server's gunicorn
workers, whose memory and sockets the event-stream benchmarks read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_ROLES = (
    ("gunicorn", "web"),
    ("postgres", "postgresql"),
    ("redis-server", "redis"),
    ("rq", "jobs"),
)


@dataclass(frozen=True)
class Process:
    """One process as /proc shows it."""

    parent: int
    command: str
    cpu_seconds: float

    @property
    def role(self) -> str:
        """web (gunicorn), postgresql, redis, jobs (rq) or other (the benchmark's own)."""
        return next((name for marker, name in _ROLES if marker in self.command), "other")


def _cpu_seconds(stat_fields: list[str]) -> float:
    # utime and stime, in clock ticks: fields 14 and 15 of /proc/PID/stat.
    return (int(stat_fields[11]) + int(stat_fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    # After the command in parentheses, which may itself hold spaces.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def process_table() -> dict[int, Process]:
    """Every process now: pid -> its parent, command line and CPU seconds so far."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = _stat_fields(pid)
            found[int(pid)] = Process(int(fields[1]), command, _cpu_seconds(fields))
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return found


def cpu_seconds_of(pids: Iterable[int]) -> float:
    """CPU seconds used so far by `pids` together (a process that has ended counts 0)."""
    total = 0.0
    for pid in pids:
        try:
            total += _cpu_seconds(_stat_fields(pid))
        except OSError:
            continue
    return total


class CpuMeter:
    """CPU seconds used by each role during a `with` block, counted per process (a process
    that ends inside the block is not counted)."""

    def __enter__(self) -> CpuMeter:
        self._before = process_table()
        self.used: dict[str, float] = {}
        return self

    def __exit__(self, *exc) -> None:
        for pid, process in process_table().items():
            before = self._before.get(pid)
            spent = process.cpu_seconds - (before.cpu_seconds if before else 0.0)
            self.used[process.role] = self.used.get(process.role, 0.0) + spent

    def per_item_ms(self, items: int) -> dict[str, float]:
        """Milliseconds of CPU per item done in the block, by role (busiest first)."""
        ranked = sorted(self.used.items(), key=lambda kv: -kv[1])
        return {role: round(seconds / items * 1000, 3) for role, seconds in ranked if items}


def gunicorn_workers(under: int | None) -> list[int]:
    """The gunicorn workers (a gunicorn process whose parent is gunicorn), descendants of
    `under` when given."""
    table = process_table()

    def command_of(pid: int) -> str:
        return table[pid].command if pid in table else ""

    def descends(pid: int) -> bool:
        while pid > 1:
            if pid == under:
                return True
            pid = table[pid].parent if pid in table else 0
        return False

    return sorted(
        pid
        for pid, process in table.items()
        if "gunicorn" in process.command
        and "gunicorn" in command_of(process.parent)
        and (under is None or descends(pid))
    )


def open_sockets(pid: int) -> int:
    """How many sockets `pid` holds open (its listeners, when idle)."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


def rss_bytes(pids: list[int]) -> int:
    """The resident memory of `pids`, summed (VmRSS)."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total
