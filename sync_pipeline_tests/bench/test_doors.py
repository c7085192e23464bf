"""Where a UI click's time went (``bench.doors``), from run records."""

from datetime import UTC, datetime
from types import SimpleNamespace

from bench.doors import where_time_went


def run(created: float, start: float | None, end: float | None) -> SimpleNamespace:
    return SimpleNamespace(
        create_timestamp=datetime.fromtimestamp(created, tz=UTC), start_time=start, end_time=end
    )


def test_gaps_between_runs_and_after_the_last_count_as_no_run_executing():
    # Click at 100; catalog 105-120; two pages overlap 150-200 and 160-190; archival 230-240;
    # settled at 260: idle 5 + 30 + 30 + 20 = 85.
    runs = [run(104, 105, 120), run(121, 150, 200), run(121, 160, 190), run(225, 230, 240)]
    figures = where_time_went(runs, started=100, settled=260)
    assert figures["first_run_after_s"] == 4
    assert figures["no_run_executing_s"] == 85
    assert figures["run_start_wait_s"] == (1 + 29 + 39 + 5) / 4


def test_a_run_still_going_counts_as_executing_until_settled():
    figures = where_time_went([run(101, 102, None)], started=100, settled=150)
    assert figures["no_run_executing_s"] == 2


def test_no_run_at_all_is_all_waiting():
    figures = where_time_went([], started=100, settled=130)
    assert figures == {"first_run_after_s": 0.0, "no_run_executing_s": 30, "run_start_wait_s": 0.0}
