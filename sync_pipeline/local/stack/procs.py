"""Start long-running servers in their own session, and stop only those we started.

A server is recorded as a :class:`Process`: its pid, which is also its process
group and session id (``start_new_session=True``). ``start_time`` (clock ticks since boot,
from ``/proc/<pid>/stat``; ``ps -o lstart`` elsewhere) guards against pid reuse: a process
whose start time differs is someone else's and is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class Process:
    """A process we started; ``pid`` and ``start_time`` identify it, ``log`` gets its output."""

    pid: int
    start_time: str | None
    log: str


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ... starttime(22) ..."; comm may contain spaces.
    return raw[raw.rindex(")") + 2 :].split()


def _ps(pid: int, column: str) -> str | None:
    try:
        out = subprocess.run(
            ["ps", "-o", f"{column}=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def start_time(pid: int) -> str | None:
    """An identifier of the process's start, or None if there is no (live) such process."""
    if _PROC.is_dir():
        fields = _stat_fields(pid)
        if fields is None or fields[0] == "Z":
            return None
        return fields[19]
    state = _ps(pid, "stat")
    if state is None or state.startswith("Z"):
        return None
    return _ps(pid, "lstart")


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child (e.g. under pytest)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(record: Process | None) -> bool:
    if not record or not record.pid:
        return False
    _reap(record.pid)
    return start_time(record.pid) == record.start_time


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    members = []
    if _PROC.is_dir():
        for entry in _PROC.iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] != "Z" and fields[2] == str(pgid):
                members.append(int(entry.name))
        return members
    out = subprocess.run(
        ["ps", "-A", "-o", "pid=,pgid=,stat="], capture_output=True, text=True, check=False
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == str(pgid) and not parts[2].startswith("Z"):
            members.append(int(parts[0]))
    return members


def start_detached(
    cmd: list[str], *, cwd: Path | None, env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a new session (its own process group, so it outlives us and can be
    stopped as a group), stdin closed, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def spawn(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Process:
    """Start ``cmd`` in a new session (it outlives us), output appended to ``log``."""
    proc = start_detached(cmd, cwd=cwd, env=env, log=log)
    started = start_time(proc.pid)
    # Popen objects are reaped by the subprocess module if they are garbage collected;
    # we keep no handle: the record is what identifies the server from now on.
    return Process(pid=proc.pid, start_time=started, log=str(log))


def _ours(record: Process) -> bool:
    """Whether the process group of ``record`` is one we started.

    The leader still running with its recorded start time: yes. The leader gone but
    members left in its group: also ours (Linux does not reuse a pid while a process
    group with that id exists). The pid running with another start time: not ours.
    """
    current = start_time(record.pid)
    if current is None:
        return True
    return current == record.start_time


def stop(record: Process | None, *, timeout: float = 20.0, leader_first: bool = False) -> bool:
    """Stop the process group of ``record``: SIGTERM, then SIGKILL after ``timeout``.

    With ``leader_first`` only the leader gets the first SIGTERM (a supervisor that shuts
    its children down cleanly); the rest of the group is signalled if it outlives it.
    Returns True if something of ours was running.
    """
    if not record or not record.pid:
        return False
    pid = record.pid
    _reap(pid)
    if not _ours(record) or not group_members(pid):
        return False

    def signal_group(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    if leader_first and is_running(record):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        if _wait_gone(pid, timeout):
            return True
    signal_group(signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return True
    signal_group(signal.SIGKILL)
    _wait_gone(pid, 5.0)
    return True


def _wait_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pgid)
        if not group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
