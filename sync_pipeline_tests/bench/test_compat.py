"""The release matrix's table and its refusal of a release the project cannot run
(``bench.compat``; the matrix itself runs the real releases, in CI the oldest and the default)."""

from bench.compat import CHECKS, ReleaseResult, format_table, main


def _result(version: str, failed: str | None = None) -> ReleaseResult:
    checks = {name: (name != failed, f"{name} figure") for name in CHECKS}
    seconds = {"full": 12.0, "again": 5.0, "change": 5.0, "stock_later_off": 4.0}
    return ReleaseResult(version, 70.0, checks, seconds | {"stock_later_on": 6.0})


def test_the_table_gives_each_check_its_figure_and_seconds_and_a_verdict():
    lines = format_table([_result("2.8.8"), _result("2.21.2", failed="again")]).splitlines()
    assert lines[0].startswith("| release | full | again | change | shop | stock_later |")
    assert lines[2] == (
        "| 2.8.8 | full figure, 12.0 s | again figure, 5.0 s | change figure, 5.0 s | "
        "shop figure | stock_later figure, 10.0 s | 32.0 | 70.0 | pass |"
    )
    assert lines[3].endswith("| FAIL |")


def test_a_release_that_did_not_run_every_check_fails():
    result = _result("2.12.6")
    del result.checks["shop"]
    assert not result.ok and "| not run |" in format_table([result])


def test_a_release_without_a_lockfile_is_refused_before_the_stack_starts(capsys):
    assert main(["--versions", "oldest,2.7.1"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        "python -m bench.compat: error: --versions: 2.7.1 not in medusa/releases/"
    )
