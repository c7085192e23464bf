"""What the benchmarks measure on: the catalog of each size and the files they are given.

A bad input file is one sentence naming it, found before the stack starts (``input_error``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sync_pipeline.local.dummyjson_server.catalog_file import DataFileError, load_products
from sync_pipeline.settings import DUMMYJSON_SNAPSHOT_DIR

REAL_SIZE = 194
REAL_CATALOG = DUMMYJSON_SNAPSHOT_DIR / "products.json"


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "").replace(",", "")) for part in text.split(",") if part]
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive whole numbers: {text!r}")
    return sizes


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def catalog_file(
    size: int, seed: int, workdir: Path, real: Path = REAL_CATALOG
) -> tuple[Path, str]:
    """The catalog to serve: the real 194 products, or a generated one."""
    if size == REAL_SIZE:
        return real, f"real ({real})"
    from sync_pipeline.local.dummyjson_server.generate import generate_catalog, write_catalog

    path = workdir / f"generated-{size}-{seed}.json"
    write_catalog(generate_catalog(size, seed), path)
    return path, f"generated (seed {seed})"


def input_error(
    real_catalog: Path, dagster_yaml: Path | None, rules: Path | None = None
) -> str | None:
    """The first input file that cannot serve, as one sentence; checked before the stack starts."""
    try:
        load_products(real_catalog)
    except DataFileError as error:
        return f"--real-catalog: {error}"
    if rules is not None:
        from sync_pipeline.sync.rules import RulesError, load_rules

        try:
            load_rules(rules, setting="--rules")
        except RulesError as error:
            return str(error)
    if dagster_yaml is None:
        return None
    import yaml

    try:
        settings = yaml.safe_load(dagster_yaml.read_text(encoding="utf-8"))
    except OSError as error:
        return f"--dagster-yaml: cannot read {dagster_yaml}: {error.strerror or error}"
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        return f"--dagster-yaml: {dagster_yaml} is not valid YAML{where}"
    if not isinstance(settings, dict):
        return f"--dagster-yaml: {dagster_yaml} must be a mapping of Dagster instance settings"
    return None
