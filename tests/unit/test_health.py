import datetime

import pytest

from nova_snapshot_hook import views
from nova_snapshot_hook.rules import freshness as health

SERVER = "11111111-2222-3333-4444-555555555555"
CLONE_SOURCE = "99999999-2222-3333-4444-555555555555"
COUNTS = {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 2, "apt": 5}
HOUR, DAY = 3600, 86400


def at(text):
    return datetime.datetime.fromisoformat(text).replace(
        tzinfo=datetime.timezone.utc).timestamp()


NOW = at("2026-11-26T12:00:00")


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def backup(series, age, status="active", ours=True, ident=None):
    image = {"id": ident or f"{series}-{age}", "created_at": iso(NOW - age), "status": status,
             "instance_uuid": SERVER, "image_type": "backup", "backup_type": series}
    if ours:
        image.update(nsh_server=SERVER, nsh_series=series, nsh_method="createBackup")
    return image


def attempt(outcome, age, error=None, server=SERVER, trigger="schedule"):
    return {"time": NOW - age, "outcome": outcome, "server": server, "error": error,
            "trigger": trigger}


def judge(images, attempts=None, counts=None, apt_enabled=True, max_delay=3600, now=NOW):
    return {h.series: h for h in health.judge(images, attempts or {}, SERVER, counts or COUNTS,
                                              "apt", apt_enabled, max_delay, now)}


def all_tiers_fresh():
    return [backup("daily", 5 * HOUR), backup("weekly", 3 * DAY), backup("monthly", 20 * DAY),
            backup("yearly", 200 * DAY)]


def test_fresh_backups_of_every_tier_are_fine_and_exit_0():
    healths = judge(all_tiers_fresh())
    assert {s: h.verdict for s, h in healths.items()} == {
        "daily": "ok", "weekly": "ok", "monthly": "ok", "yearly": "ok", "apt": "ok"}
    assert health.exit_code(healths.values()) == 0


def test_daily_older_than_26_hours_plus_the_delay_is_stale_and_exit_1():
    images = [backup("daily", 26 * HOUR + 3600 + 60)] + all_tiers_fresh()[1:]
    healths = judge(images)
    assert healths["daily"].verdict == "stale" and "limit 1d 03h" in healths["daily"].why
    assert health.exit_code(healths.values()) == 1
    assert judge([backup("daily", 26 * HOUR + 3500)] + all_tiers_fresh()[1:])["daily"].verdict \
        == "ok"


def test_max_delay_widens_every_limit():
    images = [backup("daily", 27 * HOUR)] + all_tiers_fresh()[1:]
    assert judge(images, max_delay=0)["daily"].verdict == "stale"
    assert judge(images, max_delay=2 * HOUR)["daily"].verdict == "ok"


@pytest.mark.parametrize("tier, fresh, old", [("weekly", 8 * DAY - 60, 8 * DAY + 3 * HOUR),
                                              ("monthly", 32 * DAY - 60, 32 * DAY + 3 * HOUR),
                                              ("yearly", 367 * DAY - 60, 367 * DAY + 3 * HOUR)])
def test_each_tier_has_its_own_limit(tier, fresh, old):
    others = [image for image in all_tiers_fresh() if image["backup_type"] != tier]
    assert judge(others + [backup(tier, fresh)])[tier].verdict == "ok"
    assert judge(others + [backup(tier, old)])[tier].verdict == "stale"


def test_a_newer_backup_of_a_higher_tier_keeps_the_lower_tier_fresh():
    # Sunday noon: Saturday's daily is 35 hours old, but this morning's run took the weekly.
    images = [backup("daily", DAY + 11 * HOUR), backup("weekly", 11 * HOUR),
              backup("monthly", 20 * DAY), backup("yearly", 100 * DAY)]
    daily = judge(images)["daily"]
    assert daily.verdict == "ok" and "higher tier" in daily.why


def test_only_active_images_count_as_backups():
    images = [backup("daily", HOUR, status="queued"), backup("daily", 3 * DAY)] + \
        all_tiers_fresh()[1:]
    daily = judge(images)["daily"]
    assert daily.verdict == "stale" and daily.newest["status"] == "queued" and daily.active == 1


def test_a_failed_last_attempt_is_failing_and_exit_2_with_its_error():
    images = all_tiers_fresh()
    healths = judge(images, {"daily": attempt("failed", HOUR, error="HTTP 500 boom")})
    assert healths["daily"].verdict == "failing" and "HTTP 500 boom" in healths["daily"].why
    assert health.exit_code(healths.values()) == 2


def test_failing_wins_over_stale_in_the_exit_status():
    images = [backup("daily", 3 * DAY)] + all_tiers_fresh()[1:]
    healths = judge(images, {"apt": attempt("failed", HOUR, trigger="apt")})
    assert healths["daily"].verdict == "stale" and healths["apt"].verdict == "failing"
    assert health.exit_code(healths.values()) == 2


def test_a_backup_newer_than_the_failed_attempt_clears_the_failure():
    images = all_tiers_fresh()
    assert judge(images, {"daily": attempt("failed", 6 * HOUR)})["daily"].verdict == "ok"


def test_a_killed_newest_image_is_failing_like_a_failed_attempt_until_a_newer_backup():
    # The same rule as `fleet status`, which has no attempts file: Glance's failed upload.
    killed = backup("apt", HOUR, status="killed", ident="broken")
    healths = judge(all_tiers_fresh() + [backup("apt", DAY), killed])
    assert healths["apt"].verdict == "failing" and "broken" in healths["apt"].why
    assert health.exit_code(healths.values()) == 2
    newer = backup("apt", HOUR // 2)
    assert judge(all_tiers_fresh() + [backup("apt", DAY), killed, newer])["apt"].verdict == "ok"


def test_attempts_recorded_for_another_server_are_ignored():
    # A server booted from a backup carries the original's attempts file.
    healths = judge(all_tiers_fresh(), {"daily": attempt("failed", HOUR, server=CLONE_SOURCE)})
    assert healths["daily"].verdict == "ok" and healths["daily"].attempt is None


def test_apt_and_by_hand_series_are_never_stale():
    images = all_tiers_fresh() + [backup("apt", 400 * DAY), backup("manual", 400 * DAY),
                                  backup("before-migration", 400 * DAY, ours=False)]
    healths = judge(images)
    assert [healths[s].verdict for s in ("apt", "manual", "before-migration")] == ["ok"] * 3
    assert health.exit_code(healths.values()) == 0


def test_a_tier_switched_off_is_off_not_stale():
    counts = dict(COUNTS, weekly=0)
    images = [backup("daily", HOUR), backup("weekly", 100 * DAY)] + all_tiers_fresh()[2:]
    healths = judge(images, counts=counts)
    assert healths["weekly"].verdict == "off" and health.exit_code(healths.values()) == 0
    assert "weekly" not in judge(all_tiers_fresh()[:1], counts=dict(counts, monthly=0, yearly=0))


def test_without_any_scheduled_backup_only_the_lowest_enabled_tier_is_stale():
    healths = judge([])
    assert healths["daily"].verdict == "stale" and "no scheduled backup" in healths["daily"].why
    assert [healths[t].verdict for t in ("weekly", "monthly", "yearly")] == ["ok"] * 3
    off_daily = judge([], counts=dict(COUNTS, daily=0))
    assert off_daily["weekly"].verdict == "stale"


def test_a_missing_tier_is_stale_once_the_schedule_has_run_longer_than_its_limit():
    young = [backup("daily", d * DAY) for d in range(1, 6)]
    assert judge(young)["weekly"].verdict == "ok"
    old = young + [backup("daily", 9 * DAY)]
    weekly = judge(old)["weekly"]
    assert weekly.verdict == "stale" and "although scheduled backups exist" in weekly.why


def test_series_are_ordered_tiers_then_apt_then_the_rest():
    images = all_tiers_fresh() + [backup("zzz", DAY), backup("manual", DAY)]
    order = [h.series for h in health.judge(images, {}, SERVER, COUNTS, "apt", True, 3600, NOW)]
    assert order == ["daily", "weekly", "monthly", "yearly", "apt", "manual", "zzz"]


def test_the_apt_series_is_listed_only_when_the_hook_is_on_or_it_has_backups():
    assert "apt" not in judge(all_tiers_fresh(), apt_enabled=False)
    assert "apt" in judge(all_tiers_fresh() + [backup("apt", DAY)], apt_enabled=False)


def test_the_table_shows_age_state_and_verdict():
    lines = views.status_lines(health.judge(all_tiers_fresh(), {"daily": attempt(
        "succeeded", 5 * HOUR)}, SERVER, COUNTS, "apt", True, 3600, NOW), NOW)
    assert lines[0].split()[:3] == ["SERIES", "LAST", "BACKUP"]
    daily = next(line for line in lines if line.startswith("daily"))
    assert "2026-11-26 07:00:00" in daily and "5h 00m" in daily and "active" in daily
    assert "succeeded 2026-11-26 07:00" in daily and "ok: newest backup 5h 00m old" in daily


def metrics(text):
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def test_prometheus_file_has_the_gauges_per_series_and_the_overall_status():
    healths = health.judge(all_tiers_fresh(), {"daily": attempt("failed", HOUR, error="x")},
                           SERVER, COUNTS, "apt", True, 3600, NOW)
    text = health.prometheus_text(healths, NOW, health.exit_code(healths))
    values = metrics(text)
    assert values['nova_snapshot_hook_last_backup_timestamp_seconds{series="daily"}'] == \
        NOW - 5 * HOUR
    assert values['nova_snapshot_hook_backups{series="weekly"}'] == 1
    assert values['nova_snapshot_hook_last_attempt_success{series="daily"}'] == 0
    assert values['nova_snapshot_hook_series_status{series="daily"}'] == 2
    assert values["nova_snapshot_hook_status"] == 2 and values["nova_snapshot_hook_cloud_up"] == 1
    for name in ("last_backup_timestamp_seconds", "backups", "status"):
        assert f"# TYPE nova_snapshot_hook_{name} gauge" in text
    assert text.endswith("\n")


def test_prometheus_labels_are_escaped_and_an_unreachable_cloud_reports_attempts_only():
    healths = health.judge([], {'we"ird\\': attempt("succeeded", HOUR)}, SERVER, COUNTS, "apt",
                           False, 3600, NOW)
    text = health.prometheus_text(healths, NOW, 2, cloud_up=False)
    assert 'series="we\\"ird\\\\"' in text
    values = metrics(text)
    assert values["nova_snapshot_hook_cloud_up"] == 0
    assert not any(name.startswith(("nova_snapshot_hook_backups", "nova_snapshot_hook_series"))
                   for name in values)
