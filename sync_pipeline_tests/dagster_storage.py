"""Dagster instances on either storage for the tests: SQLite files (the repository's
dagster.yaml, one machine) or PostgreSQL (deploy/dagster.yaml), in a database of its own on
the local stack's PostgreSQL that is dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg2  # installed with dagster-postgres, a project dependency

from sync_pipeline.settings import REPO_ROOT
from sync_pipeline.sync.locking import SyncLock, instance_sync_lock


@dataclass(frozen=True)
class StackDatabase:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def dagster_env(self) -> dict[str, str]:
        """The environment deploy/dagster.yaml reads its storage from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.dbname,
        }

    def connect(self, dbname: str | None = None):
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.dbname,
        )

    def execute(self, statement: str, dbname: str | None = None) -> list[tuple]:
        connection = self.connect(dbname)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()


@contextmanager
def stack_database(name: str) -> Iterator[StackDatabase]:
    """A fresh database ``name`` (plus this process's id, so pytest-xdist workers never
    share one) on the running stack's PostgreSQL."""
    from sync_pipeline.local.stack.state import StackState

    target = StackState.load().target
    assert target is not None, "the local stack has no PostgreSQL"
    database = StackDatabase(
        target.host, target.port, target.user, target.password, f"{name}_{os.getpid()}"
    )
    drop = f"DROP DATABASE IF EXISTS {database.dbname} WITH (FORCE)"
    database.execute(drop, "postgres")
    database.execute(f"CREATE DATABASE {database.dbname}", "postgres")
    try:
        yield database
    finally:
        database.execute(drop, "postgres")


@dataclass
class DagsterStorage:
    """A ``DAGSTER_HOME`` and the environment its dagster.yaml reads, with its instance open."""

    home: Path
    env: dict[str, str]
    instance: dg.DagsterInstance

    @property
    def lock(self) -> SyncLock:
        return instance_sync_lock(self.instance)

    def new_home(self, path: Path) -> Path:
        """Another ``DAGSTER_HOME`` on the same storage, as another host (container) has."""
        path.mkdir(parents=True, exist_ok=True)
        (path / "dagster.yaml").write_text((self.home / "dagster.yaml").read_text())
        return path


@contextmanager
def dagster_storage(home: Path, yaml: Path, env: dict[str, str]) -> Iterator[DagsterStorage]:
    """The instance of ``home`` with ``yaml`` as its dagster.yaml; ``env`` (the storage's
    settings) is set in this process while it is open, as a container's environment would be."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.read_text())
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield DagsterStorage(home, {"DAGSTER_HOME": str(home), **env}, instance)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def sqlite_storage(home: Path) -> Iterator[DagsterStorage]:
    with dagster_storage(home, REPO_ROOT / "dagster.yaml", {}) as storage:
        yield storage


@contextmanager
def postgres_storage(home: Path, name: str) -> Iterator[DagsterStorage]:
    with (
        stack_database(name) as database,
        dagster_storage(home, REPO_ROOT / "deploy" / "dagster.yaml", database.dagster_env()) as s,
    ):
        yield s
