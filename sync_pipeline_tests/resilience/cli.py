"""Running ``sync-pipeline sync`` as a subprocess: its process group, and what it leaves behind."""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Iterable
from pathlib import Path

SYNC_COMMAND = [sys.executable, "-m", "sync_pipeline.cli", "sync"]


def group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) whose process group is ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def wait_for_empty_group(pgid: int, timeout: float = 5.0) -> list[int]:
    """Poll until nothing of the group is alive; what is still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (members := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return members


def secret_forms(secret: str) -> dict[str, bytes]:
    """A secret as it could leak: as is, and inside an HTTP Basic header (key as user name)."""
    return {
        "plain": secret.encode(),
        "basic-auth": base64.b64encode(f"{secret}:".encode()),
    }


def find_secrets(secrets: dict[str, str], texts: dict[str, str], folders: Iterable[Path]):
    """``(secret name, form, where)`` for every secret found in ``texts`` or in any file under
    ``folders`` (read as bytes: SQLite databases, their journals, logs, pickled outputs)."""
    places: dict[str, bytes] = {name: text.encode() for name, text in texts.items()}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                places[str(path)] = path.read_bytes()
    return [
        (name, form, where)
        for name, secret in secrets.items()
        for form, needle in secret_forms(secret).items()
        for where, content in places.items()
        if needle in content
    ]
