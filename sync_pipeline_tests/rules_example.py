"""The merchant's rules file the documentation shows (``docs/rules.md``), for the tests: the
unit tests work it out, the end-to-end test syncs it, and the README must show the same."""

from __future__ import annotations

import re
from pathlib import Path

from sync_pipeline.settings import REPO_ROOT


def documented_example(doc: Path = REPO_ROOT / "docs" / "rules.md") -> str:
    """The one TOML block of ``doc``."""
    [example] = re.findall(r"```toml\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    return example


EXAMPLE = documented_example()
