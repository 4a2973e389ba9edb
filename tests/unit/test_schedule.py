"""Scheduled backups: the tier a run takes, the per-host delay, and the `scheduled` command's
behaviour around them (the cloud call itself is replaced; tests/e2e run the real thing)."""

import collections
import datetime
import os

import pytest
from hypothesis import given, settings, strategies as st

from nova_snapshot_hook.rules import schedule
from nova_snapshot_hook.commands import scheduled as scheduled_command
from nova_snapshot_hook.cloud.credentials import CredentialsNotConfigured
from nova_snapshot_hook.backup.snapshotter import SnapshotResult
from nova_snapshot_hook.files import FileLock

from host_state import StateRoot
from runners import call_cli

GENERATED = settings(deadline=None, derandomize=True, max_examples=200)
ALL_ON = {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 2}
D = datetime.date
days = st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 31))


# -- which tier -------------------------------------------------------------------------------
@pytest.mark.parametrize("day, expected", [
    (D(2026, 11, 24), "daily"),      # a Tuesday
    (D(2026, 11, 29), "weekly"),     # a Sunday
    (D(2026, 12, 1), "monthly"),     # a Tuesday, the 1st
    (D(2026, 3, 1), "monthly"),      # a Sunday and the 1st: the higher tier
    (D(2027, 1, 1), "yearly"),       # a Friday
    (D(2023, 1, 1), "yearly"),       # a Sunday, the 1st, 1 January: all four due, one image
])
def test_the_highest_due_tier_is_taken(day, expected):
    assert schedule.pick_tier(day, ALL_ON) == expected


def test_on_1_january_all_four_are_due_but_one_run_takes_one():
    assert schedule.due_tiers(D(2023, 1, 1)) == ("daily", "weekly", "monthly", "yearly")


@pytest.mark.parametrize("off, day, expected", [
    ("yearly", D(2027, 1, 1), "monthly"),
    ("monthly", D(2026, 12, 1), "daily"),
    ("weekly", D(2026, 11, 29), "daily"),
    ("daily", D(2026, 11, 24), None),
])
def test_a_tier_with_count_0_is_off_and_the_next_lower_due_one_is_taken(off, day, expected):
    assert schedule.pick_tier(day, dict(ALL_ON, **{off: 0})) == expected


def test_only_yearly_on_takes_one_image_a_year():
    counts = {"daily": 0, "weekly": 0, "monthly": 0, "yearly": 2}
    year = [D(2026, 1, 1) + datetime.timedelta(days=n) for n in range(365)]
    assert [day for day in year if schedule.pick_tier(day, counts)] == [D(2026, 1, 1)]


def test_a_missed_sunday_is_taken_by_the_next_run():
    saturday, monday = D(2026, 11, 28), D(2026, 11, 30)
    assert schedule.pick_tier(monday, ALL_ON, last=saturday) == "weekly"
    assert schedule.pick_tier(monday, ALL_ON, last=D(2026, 11, 29)) == "daily"


def test_a_missed_first_of_january_is_taken_by_the_next_run():
    assert schedule.pick_tier(D(2027, 1, 2), ALL_ON, last=D(2026, 12, 31)) == "yearly"
    assert schedule.pick_tier(D(2027, 1, 5), ALL_ON, last=D(2026, 12, 20)) == "yearly"


def test_without_a_last_run_the_calendar_alone_decides():
    # The day after an install in June is a daily, not a "missed" yearly.
    assert schedule.pick_tier(D(2026, 6, 16), ALL_ON, last=None) == "daily"
    # A last run in the future (the clock went back) is no evidence either.
    assert schedule.pick_tier(D(2026, 6, 16), ALL_ON, last=D(2026, 7, 1)) == "daily"


@GENERATED
@given(days)
def test_every_day_has_exactly_one_tier_when_all_are_on(day):
    assert schedule.pick_tier(day, ALL_ON) in schedule.TIERS
    assert schedule.due_tiers(day)[0] == "daily"


@GENERATED
@given(days, st.integers(min_value=1, max_value=400))
def test_a_catch_up_never_takes_a_tier_that_was_not_due_in_the_gap(today, gap):
    last = today - datetime.timedelta(days=gap)
    window = [last + datetime.timedelta(days=n) for n in range(1, gap + 1)]
    calendar = {tier for day in window for tier in schedule.due_tiers(day)}
    assert set(schedule.due_tiers(today, last)) == calendar


def test_a_year_of_daily_runs_fills_each_series_once_per_period():
    taken = collections.Counter()
    day = D(2026, 1, 1)
    while day.year == 2026:
        taken[schedule.pick_tier(day, ALL_ON)] += 1
        day += datetime.timedelta(days=1)
    # 2026: 1 January is a Thursday; Sundays that are the 1st: February, March, November.
    assert taken == {"yearly": 1, "monthly": 11, "weekly": 52 - 3, "daily": 365 - 1 - 11 - 49}


def test_points_in_time_kept_by_the_default_counts():
    """7 daily + 4 weekly + 12 monthly + 2 yearly images are 25 distinct points in time: each run
    makes one image, and each series keeps its own newest ones."""
    series = collections.defaultdict(list)
    day = D(2026, 1, 1)
    while day <= D(2027, 12, 31):
        tier = schedule.pick_tier(day, ALL_ON)
        series[tier] = (series[tier] + [day])[-ALL_ON[tier]:]     # Nova's rotation per series
        day += datetime.timedelta(days=1)
    kept = sorted(d for tier in series for d in series[tier])
    assert len(kept) == len(set(kept)) == 25
    assert kept[-8:] == [D(2027, 12, 24) + datetime.timedelta(days=n) for n in range(8)]
    assert series["yearly"] == [D(2026, 1, 1), D(2027, 1, 1)]
    assert series["monthly"][0] == D(2026, 12, 1) and len(series["monthly"]) == 12


# -- the delay --------------------------------------------------------------------------------
@GENERATED
@given(st.text(min_size=1), st.integers(min_value=1, max_value=86400))
def test_the_delay_is_in_range_and_deterministic(host, max_delay):
    delay = schedule.host_delay(host, max_delay)
    assert 0 <= delay < max_delay and delay == schedule.host_delay(host, max_delay)
    assert isinstance(delay, int)


def test_no_delay_when_max_delay_is_0_or_no_id():
    assert schedule.host_delay("abc", 0) == 0 and schedule.host_delay("", 3600) == 0


def test_a_fleet_is_spread_over_the_window():
    delays = [schedule.host_delay(f"{n:032x}", 3600) for n in range(1000)]
    per_minute = collections.Counter(delay // 60 for delay in delays)
    assert len(per_minute) == 60 and max(per_minute.values()) < 40    # about 17 per minute
    assert len(set(delays)) > 750


def test_host_identity_prefers_machine_id_then_dbus_then_hostname(tmp_path):
    identity = scheduled_command.host_identity      # the edge reads them; schedule.py is pure
    assert identity(str(tmp_path), "web01") == ("web01", "the host name")
    (tmp_path / "var/lib/dbus").mkdir(parents=True)
    (tmp_path / "var/lib/dbus/machine-id").write_text("b" * 32 + "\n")
    assert identity(str(tmp_path), "web01") == ("b" * 32, "/var/lib/dbus/machine-id")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/machine-id").write_text("uninitialized\n")      # not yet filled in at boot
    assert identity(str(tmp_path), "web01")[1] == "/var/lib/dbus/machine-id"
    (tmp_path / "etc/machine-id").write_text("a" * 32 + "\n")
    assert identity(str(tmp_path), "web01") == ("a" * 32, "/etc/machine-id")


def test_state_text_round_trips_and_garbage_is_no_state():
    assert schedule.parse_state(schedule.format_state(D(2026, 11, 29), "weekly")) == \
        (D(2026, 11, 29), "weekly")
    assert schedule.parse_state("") == (None, None)
    assert schedule.parse_state("yesterday daily\n") == (None, None)
    assert schedule.parse_state("2026-11-29 fortnightly\n") == (D(2026, 11, 29), None)


# -- the command --------------------------------------------------------------------------------
@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The scheduled command with the cloud replaced: records the requests it would send."""
    from nova_snapshot_hook.backup import take as backup
    from nova_snapshot_hook.cloud import credentials as credentials_module

    class Fake:
        requests, sleeps = [], []
        credentials = type("FakeCredentials", (), {"secrets": lambda self: ()})()
        conf = tmp_path / "settings.conf"
        root = StateRoot(tmp_path / "host")
        state = root.schedule

        def write_settings(self, text="", server=""):
            # identity_root: an empty tree, so nothing of this machine is read (nor dmidecode run).
            server = server or f"identity_root = {tmp_path / 'empty'}\n"
            self.conf.write_text("[server]\nid = 11111111-2222-3333-4444-555555555555\n"
                                 "metadata_url =\n" + server + "[log]\nsyslog = no\n" + text)

        def run(self, *args):
            return call_cli("-c", self.conf, *args).returncode

    made = Fake()
    (tmp_path / "empty").mkdir()
    made.write_settings()

    def take_backup(ctx, request):
        assert ctx.credentials is made.credentials and ctx.deadline is not None
        made.requests.append(request)
        return SnapshotResult(image_id="img", name="n", series=request.series,
                              rotation=request.rotation, server_id="s", method="createBackup",
                              state="captured", seconds=0.1)

    def load_credentials(*args, **kwargs):
        if made.credentials is None:
            raise CredentialsNotConfigured("no credentials are configured", fix="edit it")
        return made.credentials

    monkeypatch.setattr(backup, "take_backup", take_backup)
    monkeypatch.setattr(credentials_module, "load_credentials", load_credentials)
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(made.root.root))
    monkeypatch.setattr(scheduled_command, "sleep", made.sleeps.append)
    return made


class FixedDate(datetime.date):
    today_is = D(2026, 11, 29)

    @classmethod
    def today(cls):
        return cls.today_is


@pytest.fixture
def on(monkeypatch):
    def set_day(day):
        FixedDate.today_is = day
        monkeypatch.setattr(scheduled_command.datetime, "date", FixedDate)
    return set_day


def test_no_credentials_yet_prints_nothing_and_exits_0(fake, capsys):
    fake.credentials = None
    assert fake.run("-q", "scheduled") == 0
    assert capsys.readouterr() == ("", "") and fake.requests == [] and fake.sleeps == []


def test_the_real_credentials_check_raises_not_configured_for_the_shipped_file(tmp_path):
    from nova_snapshot_hook.cloud.credentials import load_credentials
    shipped = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "nova-snapshot-hook",
                           "credentials")
    copy = tmp_path / "credentials"
    copy.write_bytes(open(shipped, "rb").read())
    copy.chmod(0o600)
    with pytest.raises(CredentialsNotConfigured):
        load_credentials(str(copy), environ={})


def test_one_run_takes_one_image_of_the_highest_tier_and_is_quiet(fake, on, capsys):
    on(D(2027, 1, 1))
    assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert [(r.series, r.rotation, r.trigger) for r in fake.requests] == [("yearly", 2, "schedule")]
    assert capsys.readouterr() == ("", "")
    assert fake.state.read_text() == "2027-01-01 yearly\n"


def test_the_state_file_follows_the_root(fake, on, monkeypatch, tmp_path):
    other = StateRoot(tmp_path / "elsewhere")
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(other.root))
    on(D(2026, 11, 26))
    assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert other.schedule.read_text() == "2026-11-26 daily\n" and not fake.state.exists()


def test_a_second_run_the_same_day_takes_nothing(fake, on):
    on(D(2026, 11, 29))
    assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert [r.series for r in fake.requests] == ["weekly"]


def test_the_next_run_catches_up_a_failed_sunday(fake, on):
    fake.state.parent.mkdir(parents=True)
    fake.state.write_text("2026-11-28 daily\n")
    on(D(2026, 11, 30))
    assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert [r.series for r in fake.requests] == ["weekly"]


def test_the_run_waits_this_hosts_delay_unless_told_not_to(fake, on, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/machine-id").write_text("c" * 32 + "\n")
    fake.write_settings("[schedule]\nmax_delay = 600\n", server=f"identity_root = {tmp_path}\n")
    on(D(2026, 11, 24))
    assert fake.run("-q", "scheduled") == 0
    assert fake.sleeps == [schedule.host_delay("c" * 32, 600)]


def test_tier_forces_a_tier_and_is_not_recorded_as_the_days_run(fake, on):
    on(D(2026, 11, 24))
    assert fake.run("-q", "scheduled", "--no-delay", "--tier", "monthly") == 0
    assert not fake.state.read_text()
    assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert [(r.series, r.rotation) for r in fake.requests] == [("monthly", 12), ("daily", 7)]


def test_a_forced_tier_that_is_off_is_refused(fake, capsys):
    fake.write_settings("[schedule]\nweekly = 0\n")
    assert fake.run("scheduled", "--no-delay", "--tier", "weekly") == 2
    assert "[schedule] weekly = 0" in capsys.readouterr().err


def test_all_tiers_off_takes_nothing_silently(fake, capsys):
    fake.write_settings("[schedule]\ndaily = 0\nweekly = 0\nmonthly = 0\nyearly = 0\n")
    assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert capsys.readouterr() == ("", "") and fake.requests == []


def test_a_run_holding_the_state_lock_makes_another_leave(fake):
    other = FileLock(str(fake.state))
    assert other.try_acquire()
    with other:
        assert fake.run("-q", "scheduled", "--no-delay") == 0
    assert fake.requests == []


def test_dry_run_shows_tier_rotation_and_delay_and_sends_nothing(fake, capsys):
    fake.write_settings("[schedule]\nyearly = 0\nmonthly = 9\n")
    assert fake.run("scheduled", "--dry-run", "--date", "2027-01-01") == 0
    out = capsys.readouterr().out
    assert "Would take the monthly backup" in out and "rotation 9" in out
    assert "yearly off" in out and '"backup_type": "monthly"' in out and "Delay: " in out
    assert fake.requests == [] and fake.sleeps == []


def test_date_without_dry_run_is_refused(fake):
    assert fake.run("scheduled", "--date", "2027-01-01") == 2
