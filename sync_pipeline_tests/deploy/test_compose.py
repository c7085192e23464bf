"""deploy/: the compose file, the image and the production Dagster instance config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sync_pipeline.settings import REPO_ROOT, SETTING_NAMES

DEPLOY = REPO_ROOT / "deploy"
REQUIRED_SETTINGS = {"MEDUSA_BASE_URL", "MEDUSA_API_KEY", "DUMMYJSON_BASE_URL"}
# An environment variable named as a literal in the code: environ.get("X"), _env_int(environ,
# "X", ...), dg.EnvVar("X"), _secret("X", ...).
ENV_NAME_IN_CODE = re.compile(
    r"""(?:environ(?:\.get)?\(|environ, |EnvVar\(|_secret\()"([A-Z][A-Z0-9_]+)\""""
)


def load(name: str):
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services() -> dict:
    return load("compose.yaml")["services"]


def instance_env_names() -> set[str]:
    """The variables deploy/dagster.yaml takes its values from (``env: NAME``)."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)

    walk(load("dagster.yaml"))
    return found


def test_setting_names_are_the_names_the_code_reads():
    sources = [REPO_ROOT / "sync_pipeline" / p for p in ("settings.py", "defs/resources.py")]
    read = set()
    for source in sources:
        read |= set(ENV_NAME_IN_CODE.findall(source.read_text(encoding="utf-8")))
    assert read == set(SETTING_NAMES)


def test_the_four_services_each_with_an_image_or_a_build_of_the_dockerfile(services):
    assert {"postgres", "code-server", "webserver", "daemon"} <= set(services)
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        if "build" in service:
            build = service["build"]
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile", name
    assert services["postgres"]["image"] == "postgres:15"
    assert services["postgres"]["volumes"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    # One image for the three Dagster processes.
    images = {services[n]["image"] for n in ("code-server", "webserver", "daemon")}
    assert len(images) == 1


def test_the_dockerfile_installs_the_project_and_serves_the_code_location():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "RUN pip install ." in text  # dagster-postgres comes with the project's pins
    pyproject = (DEPLOY.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"dagster-postgres==' in pyproject
    assert '"-m", "sync_pipeline.definitions"' in text
    assert "COPY deploy/dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in text
    assert "COPY deploy/workspace.yaml ./workspace.yaml" in text


def test_the_commands_and_the_workspace_point_at_the_code_server(services):
    code = services["code-server"]["command"]
    assert code[:3] == ["dagster", "code-server", "start"]
    assert code[code.index("-m") + 1] == "sync_pipeline.definitions"
    port = int(code[code.index("-p") + 1])
    assert code[code.index("-h") + 1] == "0.0.0.0"

    web = services["webserver"]["command"]
    assert web[0] == "dagster-webserver"
    workspace_path = web[web.index("-w") + 1]
    assert workspace_path == "/opt/dagster/app/workspace.yaml"
    daemon = services["daemon"]["command"]
    assert daemon[:2] == ["dagster-daemon", "run"]
    assert daemon[daemon.index("-w") + 1] == workspace_path

    (location,) = load("workspace.yaml")["load_from"]
    grpc = location["grpc_server"]
    assert grpc["host"] == "code-server" and grpc["port"] == port


def test_the_code_server_gets_only_settings_the_code_reads(services):
    env = services["code-server"]["environment"]
    dagster_env = instance_env_names() | {"DAGSTER_HOME"}
    unknown = set(env) - set(SETTING_NAMES) - dagster_env
    assert not unknown, f"not read by the sync or by deploy/dagster.yaml: {sorted(unknown)}"
    assert set(env) >= REQUIRED_SETTINGS
    for name in ("webserver", "daemon"):
        assert set(services[name]["environment"]) == dagster_env, name


def test_secrets_are_interpolated_never_literal(services):
    env = services["code-server"]["environment"]
    for name in ("MEDUSA_API_KEY", "DAGSTER_PG_PASSWORD"):
        assert re.fullmatch(r"\$\{" + name + r":\?[^}]*\}", env[name]), env[name]
    assert "deploy/.env" in (REPO_ROOT / ".gitignore").read_text(encoding="utf-8")


def test_env_example_lists_every_variable_the_compose_file_uses():
    compose = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose))
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.M))
    assert used == listed
    for name in ("MEDUSA_API_KEY", "DAGSTER_PG_PASSWORD"):
        assert re.search(rf"^{name}=$", example, flags=re.M), f"{name} must be left empty"


@pytest.fixture
def pg_env(monkeypatch):
    """Placeholder DAGSTER_PG_* values: the config's ``env:`` sources must resolve."""
    for name in instance_env_names():
        monkeypatch.setenv(name, "5432" if name.endswith("PORT") else "placeholder")


def test_the_instance_config_is_valid_and_uses_postgres(pg_env):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config_schema

    config = load("dagster.yaml")
    result = process_config(dagster_instance_config_schema(), config)
    assert result.success, [e.message for e in result.errors]
    assert set(config["storage"]) == {"postgres"}
    db = config["storage"]["postgres"]["postgres_db"]
    assert {db[k]["env"] for k in ("username", "password", "hostname", "db_name", "port")} == {
        "DAGSTER_PG_USERNAME",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_DB",
        "DAGSTER_PG_PORT",
    }
    assert config["scheduler"]["class"] == "DagsterDaemonScheduler"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"]["granularity"] == "run"
    assert config["run_monitoring"]["enabled"] is True
    assert config["telemetry"] == {"enabled": False}


def test_the_instance_config_keeps_the_root_configs_semantics():
    from sync_pipeline.settings import SyncSettings

    root = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    deploy = load("dagster.yaml")
    for key in ("telemetry", "run_coordinator", "run_monitoring", "run_retries"):
        assert deploy[key] == root[key], key
    assert deploy["concurrency"]["runs"] == root["concurrency"]["runs"]
    pools = deploy["concurrency"]["pools"]
    assert pools["granularity"] == root["concurrency"]["pools"]["granularity"]
    assert pools["default_limit"] == SyncSettings.medusa_concurrency


def test_the_instance_config_loads_as_dagster_reads_dagster_home(tmp_path: Path, pg_env):
    """Dagster's own loader (as for ``DagsterInstance.get()``) accepts the file; the storage is
    dagster-postgres's, with the psycopg2 driver named. No server is needed for this."""
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.instance.ref import InstanceRef

    (tmp_path / "dagster.yaml").write_text((DEPLOY / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    ref = InstanceRef.from_dir(str(tmp_path))
    assert ref.storage_data.module_name == "dagster_postgres"
    assert ref.storage_data.class_name == "DagsterPostgresStorage"
