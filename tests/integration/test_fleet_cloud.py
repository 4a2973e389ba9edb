"""`nova-snapshot-hook fleet` against the local cloud: servers of its own in the demo project.

The module boots four servers of its own (tag nsh-fleet-<random>; three also carry -ok, two a
metadata key) and puts one into rescue, where Nova refuses createBackup (409, vm_state rescued).
Every command selects by that tag or metadata, so no other server of the demo project (the
minicloud's own, or other tests') is ever backed up; the servers and their images are deleted at
the end. Rate limiting and a busy server are played by a loopback proxy (loopback_proxy.py), not
by the fake driver's global control files.
"""

import functools
import json
import secrets
import time

import pytest

from cloud_fixtures import read_state
from loopback_proxy import LoopbackProxy
from runners import run_cli

BOOT_MICROVERSION = "2.52"          # networks='none' (>= 2.37) and tags at boot (>= 2.52)


@pytest.fixture(scope="module")
def fleet_servers(admin):
    from novaclient import client
    nova = client.Client(BOOT_MICROVERSION, session=admin.nova.client.session)
    mark = "nsh-fleet-" + secrets.token_hex(3)
    flavor = nova.flavors.find(name="minicloud.tiny")
    image = read_state("image_id")
    specs = [("a", [mark, mark + "-ok"], {"nshfleet": mark}),
             ("b", [mark, mark + "-ok"], {"nshfleet": mark, "role": "db"}),
             ("c", [mark, mark + "-ok"], {}),
             ("refusing", [mark], {})]
    made = {}
    try:
        for suffix, tags, metadata in specs:
            made[suffix] = nova.servers.create(f"{mark}-{suffix}", image, flavor.id, nics="none",
                                               tags=tags, meta=metadata or None).id
        wait_for(nova, made.values(), "ACTIVE")
        nova.servers.rescue(made["refusing"])
        wait_for(nova, [made["refusing"]], "RESCUE")
        yield {"mark": mark, "ids": made, "nova": nova}
    finally:
        for server_id in made.values():
            try:
                admin.wait_idle(server_id, timeout=30)
            except Exception:
                pass
            admin.delete_server_images(server_id)
            nova.servers.delete(server_id)
        end = time.monotonic() + 120
        while time.monotonic() < end and any(
                server.id in made.values() for server in nova.servers.list(
                    search_opts={"name": f"^{mark}-"})):
            time.sleep(1)
        for server_id in made.values():          # a backup that finished during the deletion
            admin.delete_server_images(server_id)


def wait_for(nova, server_ids, status, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        servers = [nova.servers.get(server_id) for server_id in server_ids]
        if "ERROR" in [server.status for server in servers]:
            raise AssertionError(f"a test server went to ERROR: {servers}")
        if all(server.status == status and getattr(server, "OS-EXT-STS:task_state") is None
               for server in servers):
            return
        time.sleep(0.5)
    raise AssertionError(f"test servers did not reach {status}")


@pytest.fixture
def fleet(tmp_path, minicloud, fleet_servers, admin):
    """Run the real CLI as a management host would: the project's credentials, no server id."""
    credentials = tmp_path / "credentials"
    credentials.write_text(read_state("openrc") + "\n")
    credentials.chmod(0o600)
    settings = tmp_path / "nova-snapshot-hook.conf"

    def write_settings(cloud=""):
        settings.write_text(f"[server]\nmetadata_url =\n[snapshot]\nlock = {tmp_path}/lock\n"
                            f"poll_interval = 0.5\n[cloud]\n{cloud}[log]\nsyslog = no\n")

    run = functools.partial(run_cli, root=tmp_path / "host", settings=settings,
                            credentials=credentials, timeout=300)
    run.write_settings = write_settings
    write_settings()
    for server_id in fleet_servers["ids"].values():
        admin.wait_idle(server_id)
        admin.delete_server_images(server_id)
    yield run
    for server_id in fleet_servers["ids"].values():
        admin.wait_idle(server_id)


def ok_ids(fleet_servers):
    return {fleet_servers["ids"][suffix] for suffix in ("a", "b", "c")}


def test_fleet_snapshot_backs_up_every_tagged_server_in_its_own_series_and_rotation(
        fleet, fleet_servers, admin):
    mark = fleet_servers["mark"]
    runs = []
    for number in range(3):
        if number:
            time.sleep(1.1)                       # Glance's created_at has 1 s resolution
        result = fleet("fleet", "snapshot", "daily", "2", "--tag", mark + "-ok",
                       "--concurrency", "3", "--json")
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout))
    summary = runs[-1]
    assert summary["failed"] == 0 and summary["backed_up"] == 3 and summary["exit_status"] == 0
    assert {row["server"] for row in summary["servers"]} == ok_ids(fleet_servers)
    assert all(row["state"] in ("captured", "active") and row["error"] is None
               for run in runs for row in run["servers"])
    for row in summary["servers"]:
        assert row["image_name"].startswith(row["name"] + "-daily-")
    time.sleep(1)                                 # Nova rotates right after task_state is reset
    for server_id in ok_ids(fleet_servers):
        admin.wait_idle(server_id)
        backups = admin.backups(server_id, "daily")
        newest = {row["image_id"] for run in runs[1:] for row in run["servers"]
                  if row["server"] == server_id}
        assert {image["id"] for image in backups} == newest          # rotation 2, per server
        for image in backups:
            assert image["instance_uuid"] == server_id and image["image_type"] == "backup"
            assert image["nsh_trigger"] == "fleet" and image["nsh_server"] == server_id
    assert admin.backups(fleet_servers["ids"]["refusing"], "daily") == []


def test_a_server_that_nova_refuses_fails_alone_exits_1_and_is_named_in_the_summary(
        fleet, fleet_servers, admin):
    mark = fleet_servers["mark"]
    result = fleet("fleet", "snapshot", "weekly", "1", "--tag", mark, "--concurrency", "4")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("SERVER "))
    rows = lines[header + 1:header + 5]
    refused = [row for row in rows if f"{mark}-refusing" in row]
    assert len(refused) == 1 and " failed " in refused[0]
    assert "vm_state rescued" in refused[0] and "HTTP 409" in refused[0]
    assert lines[-1].endswith(f"4 servers in {lines[-1].split(' in ')[1].split(':')[0]}: "
                              f"3 backed up, 1 failed: {mark}-refusing")
    assert f"ERROR: {mark}-refusing ({fleet_servers['ids']['refusing']}): " in result.stderr
    for server_id in ok_ids(fleet_servers):
        assert len(admin.backups(server_id, "weekly")) == 1


def test_metadata_selects_by_key_or_by_key_and_value_and_dry_run_sends_nothing(
        fleet, fleet_servers, admin):
    mark, ids = fleet_servers["mark"], fleet_servers["ids"]
    by_value = fleet("fleet", "snapshot", "--metadata", f"nshfleet={mark}", "--dry-run", "--json")
    assert by_value.returncode == 0, by_value.stderr
    assert {call["server"] for call in json.loads(by_value.stdout)} == {ids["a"], ids["b"]}
    both = fleet("fleet", "snapshot", "--metadata", f"nshfleet={mark}", "--metadata", "role",
                 "--dry-run")
    assert both.returncode == 0 and f"{mark}-b ({ids['b']}): POST" in both.stdout
    assert f"{mark}-a" not in both.stdout and "1 server selected; nothing sent" in both.stdout
    assert all(admin.images(instance_uuid=server_id) == [] for server_id in ids.values())


def test_nothing_selected_is_an_error_not_a_quiet_success(fleet):
    result = fleet("fleet", "snapshot", "--tag", "nsh-fleet-no-such-tag")
    assert result.returncode == 1
    assert "no server matches: servers with tag nsh-fleet-no-such-tag" in result.stderr


def test_rate_limit_and_busy_answers_are_waited_out(fleet, fleet_servers, admin):
    ids = fleet_servers["ids"]
    with LoopbackProxy() as proxy:
        fleet.write_settings(cloud=f"https_proxy = {proxy.url}\n")
        proxy.inject("POST", rf"/servers/{ids['a']}/action$", 429, {"Retry-After": "2"}, times=1)
        proxy.inject("POST", rf"/servers/{ids['b']}/action$", 409, {"Content-Type":
                     "application/json"}, times=2, body=json.dumps({"conflictingRequest": {
                         "code": 409, "message": f"Cannot 'createBackup' instance {ids['b']} "
                         "while it is in task_state image_backup"}}).encode())
        result = fleet("fleet", "snapshot", "monthly", "1", "--metadata",
                       f"nshfleet={fleet_servers['mark']}", "--concurrency", "2", "--json")
        assert result.returncode == 0, result.stdout + result.stderr
        assert proxy.count("POST", rf"/servers/{ids['a']}/action$") == 2
        assert proxy.count("POST", rf"/servers/{ids['b']}/action$") == 3
        first, second = proxy.times("POST", rf"/servers/{ids['a']}/action$")
        assert second - first >= 1.9                                     # Retry-After: 2
        # The workers look at their images through shared listings, never one GET each.
        assert proxy.count("GET", r"/v2/images/[0-9a-f-]+$") == 0
        assert proxy.count("GET", r"/v2/images\?(.*&)?id=in%3A") >= 1
    assert "asks to slow down (HTTP 429); sending the request again in 2.0 s" in result.stderr
    assert "busy with another snapshot; waiting for it (HTTP 409)" in result.stderr
    for server_id in (ids["a"], ids["b"]):
        assert len(admin.backups(server_id, "monthly")) == 1


def test_fleet_status_shows_each_servers_series_and_judges_the_age(fleet, fleet_servers, admin):
    mark = fleet_servers["mark"]
    assert fleet("fleet", "snapshot", "daily", "3", "--tag", mark + "-ok").returncode == 0
    time.sleep(1)
    fresh = fleet("fleet", "status", "--tag", mark + "-ok", "--max-age", "1h", "--json")
    assert fresh.returncode == 0, fresh.stderr
    rows = json.loads(fresh.stdout)["rows"]
    assert {(row["server"], row["series"], row["verdict"]) for row in rows} == \
        {(server_id, "daily", "ok") for server_id in ok_ids(fleet_servers)}
    assert all(row["age_seconds"] < 600 and row["state"] == "active" and row["backups"] == 1
               for row in rows)
    stale = fleet("fleet", "status", "--tag", mark, "--series", "daily", "--max-age", "1h")
    assert stale.returncode == 1
    refusing = [line for line in stale.stdout.splitlines() if f"{mark}-refusing" in line]
    assert len(refusing) == 1 and refusing[0].endswith("stale: no backup")
    assert fleet("fleet", "status", "--tag", "nsh-fleet-no-such-tag").returncode == 3   # UNKNOWN
