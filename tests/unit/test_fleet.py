"""Fleet mode's rules (rules/fleet_plan.py): selection, the summary, freshness (with the model of
rules/freshness.py); and the bounded pool of workers, which the command owns (commands/fleet.py):
the rules hold no thread."""

import threading
import time

import pytest

from nova_snapshot_hook import views
from nova_snapshot_hook.commands import fleet as fleet_command
from nova_snapshot_hook.rules import fleet_plan as fleet
from nova_snapshot_hook.rules import freshness

NOW = 1_794_985_600.0          # 2026-11-18T07:06:40Z


def server(name, sid=None, tags=(), metadata=None, status="ACTIVE"):
    return {"id": sid or f"id-{name}", "name": name, "tags": list(tags),
            "metadata": dict(metadata or {}), "status": status}


SERVERS = [server("web2", tags=["backup", "web"], metadata={"role": "web", "tier": "1"}),
           server("web1", tags=["backup", "web"], metadata={"role": "web"}),
           server("db1", tags=["backup"], metadata={"role": "db", "backup": ""}),
           server("scratch", metadata={"role": "tmp"})]


def names(servers):
    return [s["name"] for s in servers]


# -- selection --------------------------------------------------------------------------------
def test_all_selects_every_server_ordered_by_name():
    assert names(fleet.select(SERVERS, fleet.Selection(everything=True))) == \
        ["db1", "scratch", "web1", "web2"]


def test_a_tag_selects_the_servers_carrying_it_and_several_tags_must_all_be_there():
    assert names(fleet.select(SERVERS, fleet.Selection(tags=["backup"]))) == ["db1", "web1", "web2"]
    assert names(fleet.select(SERVERS, fleet.Selection(tags=["backup", "web"]))) == ["web1", "web2"]
    assert fleet.select(SERVERS, fleet.Selection(tags=["nope"])) == []


def test_metadata_key_alone_matches_any_value_even_empty_and_key_value_matches_exactly():
    by_key = fleet.Selection(metadata=[fleet.parse_metadata("backup")])
    assert names(fleet.select(SERVERS, by_key)) == ["db1"]
    web = fleet.Selection(metadata=[fleet.parse_metadata("role=web")])
    assert names(fleet.select(SERVERS, web)) == ["web1", "web2"]
    both = fleet.Selection(metadata=[("role", "web"), ("tier", "1")])
    assert names(fleet.select(SERVERS, both)) == ["web2"]


def test_tag_and_metadata_together_must_both_match():
    selection = fleet.Selection(tags=["backup"], metadata=[("role", "db")])
    assert names(fleet.select(SERVERS, selection)) == ["db1"]


def test_a_server_listed_twice_is_backed_up_once():
    twice = SERVERS + [dict(SERVERS[0])]
    assert names(fleet.select(twice, fleet.Selection(everything=True))).count("web2") == 1


def test_a_server_without_tags_or_metadata_fields_only_matches_all():
    bare = {"id": "x", "name": "bare"}
    assert fleet.Selection(everything=True).matches(bare)
    assert not fleet.Selection(tags=["backup"]).matches(bare)
    assert not fleet.Selection(metadata=[("role", None)]).matches(bare)


def test_the_selection_must_be_given_and_all_stands_alone():
    assert "--all" in fleet.Selection().problem()
    assert "alone" in fleet.Selection(everything=True, tags=["x"]).problem()
    assert fleet.Selection(tags=["x"]).problem() is None


def test_nova_filters_the_tags_itself_and_metadata_is_filtered_here():
    assert fleet.Selection(tags=["a", "b"]).query() == {"tags": "a,b"}
    assert fleet.Selection(metadata=[("k", "v")]).query() == {}
    assert fleet.Selection(everything=True).query() == {}


@pytest.mark.parametrize("text, parsed", [("k=v", ("k", "v")), ("k", ("k", None)),
                                          ("k=", ("k", "")), ("k=a=b", ("k", "a=b"))])
def test_metadata_option_parses_key_and_optional_value(text, parsed):
    assert fleet.parse_metadata(text) == parsed


def test_metadata_option_needs_a_key():
    with pytest.raises(ValueError):
        fleet.parse_metadata("=v")


def test_the_selection_describes_itself_for_the_log():
    assert fleet.Selection(everything=True).describe() == "every server of the project"
    assert fleet.Selection(tags=["a"], metadata=[("k", None), ("r", "w")]).describe() == \
        "servers with tag a and metadata k and metadata r=w"


# -- the bounded pool -------------------------------------------------------------------------
def test_pool_never_runs_more_than_the_concurrency_and_returns_results_in_order():
    running, peak, lock = [0], [0], threading.Lock()

    def work(item):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return item * 10

    assert fleet_command.run_bounded(range(40), work, 4) == [n * 10 for n in range(40)]
    assert peak[0] == 4


def test_pool_keeps_every_slot_busy_while_a_slow_server_takes_long():
    finished = {}

    def work(item):
        time.sleep(0.4 if item == "slow" else 0.02)
        finished[item] = time.monotonic()
        return item

    started = time.monotonic()
    fleet_command.run_bounded(["slow"] + [f"fast{n}" for n in range(8)], work, 2)
    assert max(finished[f"fast{n}"] for n in range(8)) < finished["slow"]
    assert time.monotonic() - started < 0.4 + 0.2


def test_on_done_runs_in_the_calling_thread_once_per_item():
    seen = []
    caller = threading.current_thread()
    fleet_command.run_bounded([1, 2, 3], lambda item: -item, 2,
                              on_done=lambda item, result: seen.append(
                                  (item, result, threading.current_thread() is caller)))
    assert sorted(seen) == [(1, -1, True), (2, -2, True), (3, -3, True)]


def test_pool_with_nothing_to_do_or_more_workers_than_items():
    assert fleet_command.run_bounded([], lambda item: item, 16) == []
    assert fleet_command.run_bounded([1, 2], lambda item: item + 1, 16) == [2, 3]


def test_an_error_escaping_work_stops_the_pool_and_reaches_the_caller():
    def work(item):
        if item == 3:
            raise RuntimeError("bug")
        return item

    with pytest.raises(RuntimeError, match="bug"):
        fleet_command.run_bounded(range(10), work, 2)


def test_thread_label_is_per_thread():
    label = fleet_command.ThreadLabel()
    label.set("main")
    seen = []
    thread = threading.Thread(target=lambda: (label.set("worker"), seen.append(label.get())))
    thread.start()
    thread.join()
    assert seen == ["worker"] and label.get() == "main"


# -- outcomes ---------------------------------------------------------------------------------
def outcomes():
    return [fleet.Outcome("id-web1", "web1", "img-1", "web1-manual-x", "captured", 1.24),
            fleet.Outcome("id-db1", "db1", error="createBackup of server id-db1: HTTP 409 "
                          "Cannot 'createBackup' instance id-db1 while it is in vm_state "
                          "rescued", seconds=0.31),
            fleet.Outcome("id-web2", "web2", "img-2", "web2-manual-x", "active", 2.0)]


def test_exit_status_is_1_when_any_server_failed_else_0():
    assert fleet.exit_code(outcomes()) == 1
    assert fleet.exit_code([o for o in outcomes() if not o.failed]) == 0
    assert fleet.exit_code([]) == 0


def test_requested_captured_and_active_are_successes():
    for state in ("requested", "captured", "active"):
        assert not fleet.Outcome("i", "n", state=state).failed
    assert fleet.Outcome("i", "n").failed


def test_summary_table_has_a_row_per_server_and_names_the_failed_ones():
    lines = views.fleet_summary_lines(outcomes(), seconds=3.5)
    assert lines[0].split() == ["SERVER", "NAME", "IMAGE", "STATE", "SECONDS", "ERROR"]
    assert lines[1].split()[:5] == ["id-web1", "web1", "img-1", "captured", "1.2"]
    assert "failed" in lines[2] and "vm_state rescued" in lines[2]
    assert lines[-1] == "3 servers in 3.5 s: 2 backed up, 1 failed: db1"
    assert lines[1].index("img-1") == lines[3].index("img-2")       # aligned columns


def test_summary_dict_is_what_json_prints():
    data = fleet.summary_dict(outcomes(), "daily", 3, 16, 3.456)
    assert data["exit_status"] == 1 and data["failed"] == 1 and data["backed_up"] == 2
    assert data["seconds"] == 3.46 and data["concurrency"] == 16
    assert data["servers"][1] == {"server": "id-db1", "name": "db1", "image_id": None,
                                  "image_name": None, "state": "failed", "seconds": 0.31,
                                  "error": outcomes()[1].error, "method": None}


# -- freshness --------------------------------------------------------------------------------
def image(server_id, series, created, status="active", nsh=True, **extra):
    data = {"id": f"{server_id}-{series}-{created}", "name": f"{series}-{created}",
            "status": status, "created_at": created, "instance_uuid": server_id,
            "image_type": "backup", "backup_type": series, **extra}
    if nsh:
        data.update(nsh_series=series, nsh_server=server_id, nsh_method="createBackup")
    return data


IMAGES = [image("id-web1", "daily", "2026-11-18T06:00:00Z"),
          image("id-web1", "daily", "2026-11-17T06:00:00Z"),
          image("id-web1", "daily", "2026-11-18T07:00:00Z", status="queued"),
          image("id-web1", "weekly", "2026-11-10T06:00:00Z"),
          image("id-web2", "daily", "2026-11-16T06:00:00Z", nsh=False),
          # a snapshot that is not a backup, and another project's server
          dict(image("id-web2", "x", "2026-11-18T06:30:00Z"), image_type="snapshot",
               backup_type=None, nsh_series=None),
          image("id-elsewhere", "daily", "2026-11-18T06:00:00Z")]


def test_freshness_shows_the_newest_active_backup_of_each_series_of_each_server():
    rows = fleet.freshness([server("web1"), server("web2"), server("db1")], IMAGES, NOW)
    table = [(r.server_name, r.series, r.last["name"] if r.last else None,
              (r.newest or {}).get("status"), r.active, r.verdict, r.why) for r in rows]
    assert table == [
        ("web1", "daily", "daily-2026-11-18T06:00:00Z", "queued", 2, "ok", "no age limit"),
        ("web1", "weekly", "weekly-2026-11-10T06:00:00Z", "active", 1, "ok", "no age limit"),
        ("web2", "daily", "daily-2026-11-16T06:00:00Z", "active", 1, "ok", "no age limit"),
        ("db1", None, None, None, 0, "ok", "no backup, no age limit")]
    assert rows[0].age(NOW) == pytest.approx(3600 + 400)
    assert freshness.exit_code(rows) == 0


def test_max_age_makes_old_backups_stale_and_missing_ones_too_exit_1():
    rows = fleet.freshness([server("web1"), server("web2"), server("db1")], IMAGES, NOW,
                           max_age=fleet.parse_age("26h"))
    assert [(r.server_name, r.series, r.verdict) for r in rows] == [
        ("web1", "daily", "ok"), ("web1", "weekly", "stale"), ("web2", "daily", "stale"),
        ("db1", None, "stale")]
    assert rows[0].why == "newest backup 1h 06m old, limit 1d 02h"
    assert rows[3].why == "no backup"
    assert freshness.exit_code(rows) == 1
    assert freshness.exit_code(rows[:1]) == 0


def test_asking_for_a_series_shows_it_for_every_server_even_without_one():
    rows = fleet.freshness([server("web1"), server("db1")], IMAGES, NOW, series=["daily"],
                           max_age=8 * 86400)
    assert [(r.server_name, r.series, r.verdict) for r in rows] == [
        ("web1", "daily", "ok"), ("db1", "daily", "stale")]
    assert freshness.exit_code(rows) == 1


def test_a_killed_newest_image_is_failing_and_exit_2_until_a_newer_backup():
    killed = image("id-web1", "daily", "2026-11-18T07:01:00Z", status="killed")
    rows = fleet.freshness([server("web1")], IMAGES + [killed], NOW, series=["daily"])
    assert rows[0].verdict == "failing" and "killed" in rows[0].why
    assert freshness.exit_code(rows) == 2
    newer = image("id-web1", "daily", "2026-11-18T07:02:00Z")
    rows = fleet.freshness([server("web1")], IMAGES + [killed, newer], NOW, series=["daily"])
    assert rows[0].verdict == "ok" and freshness.exit_code(rows) == 0


def test_an_image_inherited_by_a_restored_server_is_not_its_backup():
    # A server booted from web1's backup: its own images carry web1's nsh_* properties.
    restored = image("id-new", "daily", "2026-11-18T06:30:00Z", image_type="snapshot",
                     backup_type=None, nsh_server="id-web1", nsh_series="daily")
    rows = fleet.freshness([server("new", sid="id-new")], [restored], NOW, max_age=3600)
    assert [(r.series, r.verdict, r.why) for r in rows] == [(None, "stale", "no backup")]


def test_freshness_lines_and_json():
    rows = fleet.freshness([server("web1"), server("db1")], IMAGES, NOW, max_age=86400)
    lines = views.fleet_status_lines(rows, NOW)
    assert lines[0].split()[:3] == ["SERVER", "NAME", "SERIES"]
    assert lines[1].split() == ["id-web1", "web1", "daily", "2026-11-18", "06:00:00", "1h",
                                "06m", "queued", "2", "ok:", "newest", "backup", "1h", "06m",
                                "old,", "limit", "1d", "00h"]
    assert lines[-1].split() == ["id-db1", "db1", "-", "-", "-", "-", "0", "stale:", "no",
                                 "backup"]
    assert views.fleet_status_lines([], NOW) == ["No server selected."]
    data = rows[0].as_dict(NOW)
    assert data["age_seconds"] == 4000 and data["state"] == "queued" and data["backups"] == 2
    assert data["last_backup"]["created_at"] == "2026-11-18T06:00:00Z"
    assert data["verdict"] == "ok" and data["why"].startswith("newest backup")


@pytest.mark.parametrize("text, seconds", [("90", 90), ("45m", 2700), ("26h", 93600),
                                           ("8d", 691200), ("2w", 1209600), ("1.5h", 5400)])
def test_ages_take_a_unit(text, seconds):
    assert fleet.parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "0", "-5m", "3y"])
def test_bad_ages_are_refused(text):
    with pytest.raises((ValueError, IndexError)):
        fleet.parse_age(text)
