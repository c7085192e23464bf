"""The benchmark's input files: a bad one is one line naming it, exit 2, before the stack starts."""

from pathlib import Path

import pytest

from bench import inputs, run


@pytest.fixture
def bad_file(tmp_path):
    def make(kind: str, suffix: str):
        path = tmp_path / f"input{suffix}"
        if kind == "folder":
            path.mkdir()
        elif kind == "garbage":
            path.write_text("{not: [valid")
        return path

    return make


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("missing", "--real-catalog: cannot read data file {path}: No such file or directory"),
        ("folder", "--real-catalog: cannot read data file {path}: Is a directory"),
        ("garbage", "--real-catalog: data file {path} is not valid UTF-8 JSON"),
    ],
)
def test_a_bad_real_catalog_is_one_line(bad_file, capsys, kind, problem):
    path = bad_file(kind, ".json")
    assert run.main(["--sizes", "194", "--real-catalog", str(path)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    [line] = out.err.splitlines()
    assert line.startswith("python -m bench: error: " + problem.format(path=path))


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("missing", "--dagster-yaml: cannot read {path}: No such file or directory"),
        ("garbage", "--dagster-yaml: {path} is not valid YAML (line 1)"),
    ],
)
def test_a_bad_dagster_yaml_is_one_line(bad_file, capsys, kind, problem):
    path = bad_file(kind, ".yaml")
    assert run.main(["--sizes", "194", "--dagster-yaml", str(path)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == "python -m bench: error: " + problem.format(path=path)


def test_the_real_catalog_is_the_projects_snapshot():
    path, origin = inputs.catalog_file(inputs.REAL_SIZE, seed=1, workdir=Path("/nowhere"))
    assert path == inputs.REAL_CATALOG and path.is_file()
    assert origin == f"real ({path})"
    assert "sync_pipeline/data/dummyjson" in path.as_posix()
