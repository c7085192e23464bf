"""deploy/helm/values.yaml uses only keys of the official Dagster chart, and says what we mean."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from sync_pipeline.settings import REPO_ROOT, SETTING_NAMES, SyncSettings

VALUES = REPO_ROOT / "deploy" / "helm" / "values.yaml"
CHART_KEYS = Path(__file__).with_name("helm_chart_keys.json")


def unknown_keys(values, allowed, path="") -> list[str]:
    """The key paths of ``values`` that ``allowed`` (the vendored key tree) does not have."""
    if allowed is None:  # a leaf, or a free-form map
        return []
    if isinstance(values, list):
        return [
            p
            for i, item in enumerate(values)
            for p in unknown_keys(item, allowed["[]"], f"{path}[{i}]")
        ]
    if not isinstance(values, dict):
        return []
    found = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if key not in allowed:
            found.append(where)
        else:
            found += unknown_keys(value, allowed[key], where)
    return found


def test_the_checker_catches_a_misspelt_key():
    tree = json.loads(CHART_KEYS.read_text())["keys"]
    wrong = {"dagsterDaemon": {"runMonitoring": {"enable": True}}, "postgres": {}}
    assert unknown_keys(wrong, tree) == ["dagsterDaemon.runMonitoring.enable", "postgres"]


def test_every_key_path_is_one_the_chart_documents():
    tree = json.loads(CHART_KEYS.read_text())["keys"]
    values = yaml.safe_load(VALUES.read_text())
    assert unknown_keys(values, tree) == []


def test_the_deployment_the_queue_and_the_pool():
    values = yaml.safe_load(VALUES.read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "sync_pipeline.definitions"]
    assert deployment["port"] == 4000
    assert deployment["envSecrets"] == [{"name": "sync-pipeline-medusa"}]
    assert set(deployment["env"]) <= set(SETTING_NAMES)
    assert "MEDUSA_API_KEY" not in deployment["env"]  # a secret: from envSecrets only
    assert {"MEDUSA_BASE_URL", "DUMMYJSON_BASE_URL"} <= set(deployment["env"])

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert daemon["runMonitoring"]["enabled"] is True
    pools = values["concurrency"]["pools"]
    assert pools == {"granularity": "run", "defaultLimit": SyncSettings.medusa_concurrency}
    assert values["postgresql"]["enabled"] is False
    assert "postgresqlPassword" not in values["postgresql"]
    assert values["telemetry"] == {"enabled": False}
