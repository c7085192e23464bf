"""Unit tests (no stack needed): env beats file, target choice, process safety, failures."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipeline import settings
from sync_pipeline.local.stack import cli, config, medusa, postgres, procs
from sync_pipeline.local.stack.config import StackError


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A stand-in for .local/medusa.env; os.environ is restored afterwards."""
    saved = dict(os.environ)
    path = tmp_path / "medusa.env"
    settings.write_env_file(
        path,
        {
            "MEDUSA_BASE_URL": "http://127.0.0.1:9000",
            "MEDUSA_API_KEY": "sk_from_file",
            "DATABASE_URL": "postgres://stale:stale@10.9.9.9:5432/stale",
            "MEDUSA_PORT": "9999",
        },
    )
    monkeypatch.setattr(config, "MEDUSA_ENV_FILE", path)
    for key in (
        "MEDUSA_BASE_URL",
        "MEDUSA_API_KEY",
        "DATABASE_URL",
        "MEDUSA_PORT",
        "SYNC_PIPELINE_PG",
        "SYNC_PIPELINE_PG_PORT",
    ):
        os.environ.pop(key, None)
    yield path
    # The test's own setenv first: undone later, it would bring back the values the test had
    # loaded from the file (a stale DATABASE_URL that a later `stack up` in this process obeys).
    monkeypatch.undo()
    # load_local_env writes os.environ directly: put it back exactly as it was.
    os.environ.clear()
    os.environ.update(saved)


def test_environment_beats_the_env_file(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUSA_API_KEY", "sk_from_env")
    taken = settings.load_local_env(env_file)
    assert os.environ["MEDUSA_API_KEY"] == "sk_from_env"
    assert os.environ["MEDUSA_BASE_URL"] == "http://127.0.0.1:9000"
    assert "MEDUSA_API_KEY" not in taken
    assert taken["MEDUSA_BASE_URL"] == "http://127.0.0.1:9000"


def test_env_file_values_do_not_steer_the_stack(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values that only came from .local/medusa.env cannot point `up` somewhere else."""
    settings.load_local_env(env_file)
    assert os.environ["DATABASE_URL"].startswith("postgres://stale")
    assert config.user_env("DATABASE_URL") is None
    assert config.medusa_port() == config.DEFAULT_MEDUSA_PORT
    assert postgres.choose_target(None).kind != "url"


def test_real_environment_values_steer_the_stack(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.load_local_env(env_file)
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://me:p%40ss@db.example:6543/shop?sslmode=disable"
    )
    monkeypatch.setenv("MEDUSA_PORT", "9100")
    target = postgres.choose_target(None)
    assert (target.kind, target.host, target.port, target.user, target.password) == (
        "url",
        "db.example",
        6543,
        "me",
        "p@ss",
    )
    assert (target.working_db, target.template_db) == ("shop", "shop_template")
    assert target.url("shop_template") == (
        "postgres://me:p%40ss@db.example:6543/shop_template?sslmode=disable"
    )
    assert config.medusa_port() == 9100


def test_bad_port_is_a_configuration_error(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDUSA_PORT", "ninety")
    with pytest.raises(StackError) as error:
        config.medusa_port()
    assert error.value.step == "configuration"


def test_forced_embedded_target(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_PIPELINE_PG", "embedded")
    monkeypatch.setenv("SYNC_PIPELINE_PG_PORT", "54444")
    target = postgres.choose_target(None)
    assert (target.kind, target.host, target.port) == ("embedded", "127.0.0.1", 54444)
    assert target.pg_root


def _sleeper() -> procs.Process:
    return procs.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=Path.cwd(),
        env=dict(os.environ),
        log=Path(os.devnull),
    )


def test_stop_ends_the_process_group_it_started() -> None:
    record = _sleeper()
    assert procs.is_running(record)
    assert os.getpgid(record.pid) == record.pid  # its own session / group
    assert procs.stop(record, timeout=5)
    assert not procs.is_running(record)
    assert not procs.group_members(record.pid)


def test_stop_never_signals_a_process_it_did_not_start() -> None:
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        # Same pid, different start time: a recycled pid, not ours.
        forged = procs.Process(pid=other.pid, start_time="not-its-start-time", log=os.devnull)
        assert not procs.stop(forged, timeout=1)
        time.sleep(0.2)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_start_server_on_a_busy_port_names_the_step(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StackError) as error:
            medusa.start_server(
                "start Medusa",
                project=config.medusa_project(),
                port=port,
                env={},
                log=tmp_path / "m.log",
            )
    assert error.value.step == "start Medusa"
    assert str(port) in error.value.message


def test_failure_output_names_the_step_and_shows_the_log_tail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "migrate.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    code = cli._fail("up", StackError("create + migrate template database", "exit 1", log))
    err = capsys.readouterr().err
    assert code == 1
    assert "create + migrate template database" in err
    assert "line 99" in err and "line 70" in err and "line 69" not in err


def test_admin_password_is_hidden_in_displayed_commands() -> None:
    shown = medusa._display(["/x/medusa", "user", "-e", "a@b.c", "-p", "s3cret"])
    assert "s3cret" not in " ".join(shown)


@pytest.fixture
def fake_local_postgres() -> Iterator[None]:
    """Something listening on 127.0.0.1:5432 (only if the port is free here)."""
    import socket

    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 5432))
    except OSError:
        listener.close()
        pytest.skip("127.0.0.1:5432 is taken on this machine")
    listener.listen()
    try:
        yield
    finally:
        listener.close()


def test_auto_picks_a_postgresql_on_5432(
    env_file: Path, fake_local_postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGUSER", "alice")
    monkeypatch.setenv("PGPASSWORD", "secret")
    target = postgres.choose_target(None)
    assert (target.kind, target.host, target.port) == ("local", "127.0.0.1", 5432)
    assert (target.user, target.password) == ("alice", "secret")
    assert "PGUSER/PGPASSWORD" in target.describe()


def test_auto_stays_on_the_embedded_server_it_already_uses(
    env_file: Path, fake_local_postgres: None, tmp_path: Path
) -> None:
    (tmp_path / "pg" / "data").mkdir(parents=True)
    (tmp_path / "pg" / "data" / "PG_VERSION").write_text("17\n")
    recorded = postgres.PgTarget(
        kind="embedded",
        host="127.0.0.1",
        port=54329,
        user="medusa",
        password="pw",
        working_db="medusa",
        template_db="medusa_template",
        pg_root=str(tmp_path / "pg"),
    )
    assert postgres.choose_target(recorded).kind == "embedded"


def test_auto_falls_back_to_embedded_without_5432(env_file: Path) -> None:
    if postgres.port_open("127.0.0.1", 5432):
        pytest.skip("a PostgreSQL listens on 127.0.0.1:5432 here")
    assert postgres.choose_target(None).kind == "embedded"


def test_private_parent_directories_are_detected() -> None:
    """As root, PostgreSQL runs as `postgres`: a 0700 parent makes .local/pg unusable."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp())  # pytest's tmp_path sits under a 0700 directory
    try:
        base.chmod(0o755)
        inner = base / "private" / "repo" / ".local"
        inner.mkdir(parents=True)
        (base / "private").chmod(0o700)
        assert not postgres._traversable_by_postgres(inner)
        (base / "private").chmod(0o755)
        assert postgres._traversable_by_postgres(inner)
    finally:
        shutil.rmtree(base)


def test_medusa_user_that_creates_nobody_fails_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`medusa user` once exited 0 after printing only its version: that is a failure."""
    monkeypatch.setattr(medusa, "LOGS_DIR", tmp_path)

    def prints_version_only(step: str, cmd: list[str], *, log: Path, **_: object) -> None:
        log.write_text("Medusa CLI version: 2.21.2\n")

    monkeypatch.setattr(medusa, "run", prints_version_only)
    with pytest.raises(StackError) as caught:
        medusa.create_user("create admin user", {}, "a@b.c", "pw", config.medusa_project())
    assert caught.value.step == "create admin user"
    assert "User created successfully" in caught.value.message
    assert caught.value.log == tmp_path / "user.log"

    def creates_the_user(step: str, cmd: list[str], *, log: Path, **_: object) -> None:
        log.write_text("info:    User created successfully.\n")

    monkeypatch.setattr(medusa, "run", creates_the_user)
    medusa.create_user("create admin user", {}, "a@b.c", "pw", config.medusa_project())


def test_currency_code_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDUSA_CURRENCY_CODE", raising=False)
    assert config.currency_code() == "usd"
    monkeypatch.setenv("MEDUSA_CURRENCY_CODE", "EUR")
    assert config.currency_code() == "eur"
    monkeypatch.setenv("MEDUSA_CURRENCY_CODE", "euro")
    with pytest.raises(StackError, match="MEDUSA_CURRENCY_CODE"):
        config.currency_code()


# --- Medusa releases --------------------------------------------------------------------------


def test_the_default_release_is_the_medusa_folders_with_the_names_it_always_had(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_PIPELINE_PG", "embedded")
    project = config.medusa_project()
    package = json.loads((settings.MEDUSA_PROJECT_DIR / "package.json").read_text())
    assert project.version == package["dependencies"]["@medusajs/medusa"]
    assert project.default and project.root == settings.MEDUSA_PROJECT_DIR
    target = postgres.choose_target(None)
    assert (target.working_db, target.template_db) == ("medusa", "medusa_template")
    assert config.release_of_database("medusa") == project.version


def test_another_release_gets_its_own_project_and_databases(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDUSA_VERSION", "2.8.8")
    monkeypatch.setenv("SYNC_PIPELINE_PG", "embedded")
    project = config.medusa_project()
    assert not project.default and project.root == settings.LOCAL_DIR / "medusa-2_8_8"
    target = postgres.choose_target(None)
    assert (target.working_db, target.template_db, target.spare_db) == (
        "medusa_2_8_8",
        "medusa_2_8_8_template",
        "medusa_2_8_8_spare",
    )
    monkeypatch.setenv("DATABASE_URL", "postgres://me:pw@db.example:5432/shop")
    assert postgres.choose_target(None).working_db == "shop_2_8_8"
    assert config.release_of_database("shop_2_8_8") == "2.8.8"


def test_a_release_the_stack_cannot_run_is_one_sentence_naming_the_setting(
    env_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDUSA_VERSION", "2.7.0")
    with pytest.raises(StackError) as error:
        config.medusa_project()
    assert error.value.step == "configuration"
    assert error.value.message.startswith("MEDUSA_VERSION='2.7.0' is not a release this stack")
    assert "2.8.8" in error.value.message
    # Through the command line: refused before anything starts.
    assert cli.cmd_up(argparse.Namespace(medusa_version="1.20.0")) == 1
    err = capsys.readouterr().err
    assert "MEDUSA_VERSION='1.20.0' is not a release this stack can run" in err


def test_each_release_folder_pins_its_release_in_package_json_and_lockfile() -> None:
    others = [v for v in config.supported_medusa_versions() if v != config.default_medusa_version()]
    assert "2.8.8" in others
    for version in others:
        folder = config.RELEASES_DIR / version
        package = json.loads((folder / "package.json").read_text())
        lock = json.loads((folder / "package-lock.json").read_text())
        for name in ("@medusajs/medusa", "@medusajs/framework", "@medusajs/cli"):
            assert package["dependencies"][name] == version, (folder, name)
            assert lock["packages"][f"node_modules/{name}"]["version"] == version, (folder, name)


def test_without_a_medusa_folder_the_commands_still_parse_and_the_stack_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed wheel or a container has no medusa/: `sync-pipeline sync` must still run."""
    monkeypatch.setattr(config, "MEDUSA_PROJECT_DIR", tmp_path / "medusa")
    monkeypatch.setattr(config, "RELEASES_DIR", tmp_path / "medusa" / "releases")
    from sync_pipeline.cli import build_parser

    assert build_parser().parse_args(["sync", "--dry-run"]).dry_run
    with pytest.raises(StackError) as error:
        config.medusa_project()
    assert error.value.step == "configuration"
    assert "does not pin @medusajs/medusa" in error.value.message
