"""The soak's calendar (tests/soak/plan.py): replayable from its seed, and with the mix the soak
promises (a fault in about one run in ten, every kind; days off; apt runs both within and
beyond [apt] min_interval)."""

import datetime
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "soak"))

import plan  # noqa: E402

START = datetime.date(2023, 12, 20)


def runs_of(calendar):
    return [run for _, runs in calendar for run in runs]


def test_one_seed_gives_one_plan_and_another_seed_another():
    assert plan.make_plan(1, START, 90) == plan.make_plan(1, START, 90)
    assert plan.make_plan(1, START, 90) != plan.make_plan("1:volume-backed", START, 90)


def test_about_one_run_in_ten_meets_a_fault_of_every_kind():
    runs = runs_of(plan.make_plan(1, START, 730))
    faults = [run.fault for run in runs if run.fault]
    assert 0.06 < len(faults) / len(runs) < 0.14
    assert set(faults) == set(plan.FAULTS)
    assert max(faults.count(kind) for kind in plan.FAULTS) - \
        min(faults.count(kind) for kind in plan.FAULTS) <= 1


def test_every_month_meets_faults_on_both_calendars():
    for seed in (1, "1:volume-backed"):
        assert len([run for run in runs_of(plan.make_plan(seed, START, 31)) if run.fault]) >= 2


def test_some_days_are_off_and_apt_runs_both_within_and_beyond_the_interval():
    calendar = plan.make_plan(1, START, 730)
    assert sum(1 for _, runs in calendar if not runs) >= 730 // plan.OFF_EVERY
    gaps = []
    for _, runs in calendar:
        moments = [run.moment for run in runs if run.kind == "apt"]
        gaps += [(b - a).total_seconds() for a, b in zip(moments, moments[1:])]
    assert any(gap < 600 for gap in gaps) and any(gap > 900 for gap in gaps)


def test_no_apt_run_is_near_the_minimum_interval_from_any_earlier_one():
    # Regression: 07:45, 07:51, 07:55 put the third run exactly 600 s after the recorded
    # first; whether the hook backs up then depends on milliseconds of the simulated clock.
    for seed in (1, "1:volume-backed", 2, 3):
        for _, runs in plan.make_plan(seed, START, 730):
            moments = [run.moment for run in runs if run.kind == "apt"]
            for later, moment in enumerate(moments):
                for earlier in moments[:later]:
                    gap = (moment - earlier).total_seconds()
                    assert gap <= 0.6 * 600 or gap >= 1.5 * 600, (earlier, moment)
