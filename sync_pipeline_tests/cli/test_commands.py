"""``sync-pipeline sync`` and ``demo`` misconfigured: one sentence naming the setting or file,
exit code 2, no traceback and no secret; nothing is run. (A held lock, exit 3:
``test_locking.py``.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _refused_sync(home, medusa_url: str, api_key: str, source_url: str, **settings: str) -> str:
    """``sync-pipeline sync`` that must refuse to start: its one line on stderr (exit 2,
    nothing on stdout, no run recorded in ``home``)."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MEDUSA_BASE_URL": medusa_url,
        "MEDUSA_API_KEY": api_key,
        "DUMMYJSON_BASE_URL": source_url,
        **settings,
    }
    done = subprocess.run(
        [sys.executable, "-m", "sync_pipeline.cli", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert not (home / "runs.db").exists()  # nothing ran
    return line


CASES = {
    "bad number": ({"SYNC_PAGE_SIZE": "lots"}, "SYNC_PAGE_SIZE='lots' is not a whole number"),
    "bad switch": ({"SYNC_INVENTORY": "maybe"}, "SYNC_INVENTORY='maybe' must be on or off"),
    "source down": (
        {"DUMMYJSON_BASE_URL": "http://127.0.0.1:{closed}"},
        "The source at DUMMYJSON_BASE_URL=http://127.0.0.1:{closed} does not answer",
    ),
    "source not DummyJSON": (
        {"DUMMYJSON_BASE_URL": "{medusa}"},
        "DUMMYJSON_BASE_URL={medusa} is not a DummyJSON product API",
    ),
    "Medusa down": (
        {"MEDUSA_BASE_URL": "http://127.0.0.1:{closed}"},
        "Medusa does not answer at MEDUSA_BASE_URL=http://127.0.0.1:{closed}",
    ),
    "not Medusa": (
        {"MEDUSA_BASE_URL": "{source}"},
        "MEDUSA_BASE_URL={source} is not a Medusa v2 Admin API",
    ),
    "key refused": (
        {"MEDUSA_API_KEY": "sk_not_a_real_key"},
        "refused the API key: check MEDUSA_API_KEY",
    ),
    "no such stock location": (
        {"MEDUSA_STOCK_LOCATION_ID": "sloc_missing"},
        "MEDUSA_STOCK_LOCATION_ID='sloc_missing': Medusa at {medusa} has no such stock location",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_wrong_setting_is_one_sentence_naming_it(case, medusa_stack, source_server, tmp_path):
    values = {
        "closed": _closed_port(),
        "medusa": medusa_stack.base_url,
        "source": source_server.url,
    }
    overrides, message = CASES[case]
    line = _refused_sync(
        tmp_path / "home",
        medusa_stack.base_url,
        medusa_stack.api_key,
        source_server.url,
        **{key: value.format(**values) for key, value in overrides.items()},
    )
    assert line.startswith("Not syncing: ") and message.format(**values) in line
    assert medusa_stack.api_key not in line


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("[pricing]\nmarkup = 30\n", "unknown key pricing.markup"),
        ('[sale]\nfrom_discount = "yes"\n', 'sale.from_discount must be true or false (got "yes")'),
        ("[stock]\nbuffer = -2\n", "stock.buffer must be 0 or more (got -2)"),
        (
            '[selection]\ncategories = ["laptop"]\n',
            "selection.categories names 'laptop', not a category of the source (it has beauty,",
        ),
    ],
    ids=["unknown key", "wrong type", "negative", "no such category"],
)
def test_a_bad_rules_file_is_one_sentence_and_nothing_runs(
    rules, message, old_medusa, source_server, tmp_path
):
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    # Medusa is never asked: the rules are checked first.
    line = _refused_sync(
        tmp_path / "home", old_medusa.url, "sk_test", source_server.url, SYNC_RULES_FILE=str(path)
    )
    assert line.startswith(f"Not syncing: SYNC_RULES_FILE={path}: ") and message in line, line
    assert old_medusa.requests == []


def test_a_medusa_older_than_2_8_is_refused_before_anything_runs(
    old_medusa, source_server, tmp_path
):
    line = _refused_sync(tmp_path / "home", old_medusa.url, "sk_test", source_server.url)
    assert line.startswith(
        f"Not syncing: Medusa at {old_medusa.url} is a release older than 2.8.0 (it has no GET "
        "/admin/tax-providers"
    )
    assert old_medusa.writes == []


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: None, "cannot read data file {path}: No such file or directory"),
        (lambda path: path.mkdir(), "cannot read data file {path}: Is a directory"),
        (lambda path: path.write_text("<html>"), "data file {path} is not valid UTF-8 JSON"),
    ],
    ids=["missing", "a folder", "not JSON"],
)
def test_demo_names_a_bad_data_file_before_starting_anything(tmp_path, make, problem):
    data = tmp_path / "catalog.json"
    make(data)
    done = subprocess.run(
        [sys.executable, "-m", "sync_pipeline.cli", "demo", "--data", str(data)],
        env={**os.environ, "DAGSTER_HOME": str(tmp_path / "home")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""  # `stack up` prints its steps: it never began
    [line] = done.stderr.splitlines()
    assert line.startswith("sync-pipeline demo: error: " + problem.format(path=data))
