"""Where the project keeps its local state, and how settings reach every command.

Settings come from the environment. ``sync-pipeline stack up`` also writes
``.local/medusa.env`` at the repository root; its values fill in only what the
environment does not already set, so the environment always wins.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = REPO_ROOT / ".local"
MEDUSA_ENV_FILE = LOCAL_DIR / "medusa.env"
MEDUSA_PROJECT_DIR = REPO_ROOT / "medusa"
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "dummyjson"


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``KEY=value`` file (blank lines and ``#`` comments ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write ``KEY=value`` lines, readable by the owner only (the file holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={value}\n" for key, value in values.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body)


def load_local_env(path: Path = MEDUSA_ENV_FILE) -> dict[str, str]:
    """Fill ``os.environ`` from ``.local/medusa.env`` without overriding what is already set.

    Returns the values that were taken from the file.
    """
    taken = {}
    for key, value in read_env_file(path).items():
        if key not in os.environ:
            os.environ[key] = value
            taken[key] = value
    return taken
