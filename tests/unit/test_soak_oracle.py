"""The soak's oracle (tests/soak/oracle.py) against the documented examples of
doc/scheduled-backups.md: a wrong model would let the soak pass a wrong product."""

import datetime
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "soak"))

import oracle  # noqa: E402

D = datetime.date
COUNTS = oracle.DEFAULT_COUNTS


def test_the_oracle_imports_nothing_of_the_product():
    with open(oracle.__file__, encoding="utf-8") as handle:
        imports = [line for line in handle if line.startswith(("import ", "from "))]
    assert imports and not [line for line in imports if "nova_snapshot_hook" in line]


def test_without_a_record_the_calendar_decides():
    assert oracle.scheduled_tier(D(2024, 1, 1), None, COUNTS) == "yearly"
    assert oracle.scheduled_tier(D(2024, 3, 1), None, COUNTS) == "monthly"
    assert oracle.scheduled_tier(D(2024, 9, 1), None, COUNTS) == "monthly"    # a Sunday and a 1st
    assert oracle.scheduled_tier(D(2024, 1, 7), None, COUNTS) == "weekly"     # a Sunday
    assert oracle.scheduled_tier(D(2024, 1, 10), None, COUNTS) == "daily"


def test_a_missed_period_start_is_taken_by_the_next_run():
    assert oracle.scheduled_tier(D(2024, 1, 8), D(2024, 1, 6), COUNTS) == "weekly"
    assert oracle.scheduled_tier(D(2024, 1, 2), D(2023, 12, 31), COUNTS) == "yearly"
    assert oracle.scheduled_tier(D(2024, 3, 4), D(2024, 2, 28), COUNTS) == "monthly"
    assert oracle.scheduled_tier(D(2024, 1, 9), D(2024, 1, 8), COUNTS) == "daily"


def test_a_second_run_the_same_day_takes_nothing():
    assert oracle.scheduled_tier(D(2024, 1, 9), D(2024, 1, 9), COUNTS) is None


def test_a_tier_that_is_off_gives_way_to_the_next_lower_one():
    assert oracle.scheduled_tier(D(2024, 1, 1), None, dict(COUNTS, yearly=0)) == "monthly"
    assert oracle.scheduled_tier(D(2024, 1, 7), None, dict(COUNTS, weekly=0)) == "daily"
    assert oracle.scheduled_tier(D(2024, 1, 10), None, dict.fromkeys(COUNTS, 0)) is None


def test_each_series_keeps_its_newest_images():
    model = oracle.Model()
    start = datetime.datetime(2024, 1, 10, 1, 1)
    for n in range(9):
        model.image_made("daily", start + datetime.timedelta(days=n))
    kept = model.expected()["daily"]
    assert len(kept) == 7 and kept[0] == "20240112T0101" and kept[-1] == "20240118T0101"


def test_an_unrotated_backup_stays_until_the_series_next_backup():
    model = oracle.Model(counts={"daily": 2})
    start = datetime.datetime(2024, 1, 10, 1, 1)
    model.image_made("daily", start)
    model.image_made("daily", start + datetime.timedelta(days=1))
    model.image_made("daily", start + datetime.timedelta(days=2), rotated=False)   # killed
    assert len(model.expected()["daily"]) == 3
    model.image_made("daily", start + datetime.timedelta(days=3))
    assert model.expected()["daily"] == ["20240112T0101", "20240113T0101"]


def test_the_apt_hook_waits_out_the_minimum_interval_from_its_last_recorded_backup():
    model = oracle.Model(min_interval=600)
    moment = datetime.datetime(2024, 1, 10, 9, 0)
    assert model.apt_wants_backup(moment)
    model.apt_recorded(moment)
    assert not model.apt_wants_backup(moment + datetime.timedelta(seconds=599))
    assert model.apt_wants_backup(moment + datetime.timedelta(seconds=600))
    assert model.apt_wants_backup(moment - datetime.timedelta(seconds=1))   # clock went back


def test_compare_names_what_is_missing_and_what_is_beyond_the_model():
    expected = {"daily": ["a", "b"], "apt": ["x"]}
    assert oracle.compare(expected, {"daily": ["a", "b"], "apt": ["x"]}) == []
    assert oracle.compare(expected, {"daily": ["a", "b", "b"], "apt": ["x"]}) == \
        [("daily", [], ["b"])]
    assert oracle.compare(expected, {"daily": ["a"], "weekly": ["w"]}) == \
        [("apt", ["x"], []), ("daily", ["b"], []), ("weekly", [], ["w"])]
