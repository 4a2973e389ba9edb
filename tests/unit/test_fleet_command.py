"""The fleet command's edge (fleet_command.py): Nova's pages (read by a real Cloud.list_servers),
and against FakeCloud: the selection, one server's outcome; log lines labelled with the server,
arguments."""

import dataclasses
import logging
import os
import types

import pytest

from nova_snapshot_hook.rules import fleet_plan as fleet
from nova_snapshot_hook.cloud import client
from nova_snapshot_hook.commands import fleet as fleet_command
from nova_snapshot_hook.errors import CloudError
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest

from fake_cloud import FakeCloud
from nova_snapshot_hook import paths
from runners import run_cli


class Pages:
    """Nova's GET /servers/detail in pages of two, with servers_links like Nova's."""

    def __init__(self, servers):
        self.servers, self.paths = servers, []

    def get(self, path):
        self.paths.append(path)
        query = dict(part.split("=", 1) for part in path.partition("?")[2].split("&") if part)
        start = 0
        if "marker" in query:
            start = [s["id"] for s in self.servers].index(query["marker"]) + 1
        page = self.servers[start:start + 2]
        body = {"servers": page}
        if start + 2 < len(self.servers):
            body["servers_links"] = [{"rel": "next", "href": "http://nova.example:8774/v2.1/"
                                      f"servers/detail?limit=2&marker={page[-1]['id']}&tags=t"}]
        return None, body


def paged_cloud(servers):
    """A real cloud.Cloud whose novaclient HTTP client is Pages: no session is used."""
    from keystoneauth1 import session as ksa_session
    credentials = types.SimpleNamespace(region_name="", interface="public", source="test",
                                        auth_url="http://127.0.0.1:5000/v3", auth_type="password")
    cloud = client.Cloud(credentials, ksa_session.Session())
    cloud.nova = types.SimpleNamespace(client=Pages(list(servers)))
    return cloud


def test_listing_follows_novas_pages_on_our_own_endpoint():
    servers = [{"id": f"s{n}", "name": f"n{n}", "tags": ["t"]} for n in range(5)]
    cloud = paged_cloud(servers)
    listed = cloud.list_servers(**fleet.Selection(tags=["t"]).query())
    assert [s["id"] for s in listed] == ["s0", "s1", "s2", "s3", "s4"]
    assert cloud.nova.client.paths == [
        "/servers/detail?tags=t", "/servers/detail?limit=2&marker=s1&tags=t",
        "/servers/detail?limit=2&marker=s3&tags=t"]


def test_the_selection_lists_with_novas_own_filters_and_selects_the_rest_here():
    cloud = FakeCloud()
    web = cloud.add_server(name="web", tags=["t"], metadata={"role": "web"})
    cloud.add_server(name="db", tags=["t"], metadata={"role": "db"})
    selection = fleet.Selection(tags=["t"], metadata=[("role", "web")])
    assert [s["id"] for s in fleet_command.selected_servers(cloud, selection)] == [web]
    assert cloud.called("list_servers") == [{"tags": "t"}]


def test_an_empty_selection_is_an_error_that_says_what_was_asked():
    cloud = FakeCloud()
    cloud.add_server(tags=[])
    with pytest.raises(Exception, match="no server matches: servers with tag gone"):
        fleet_command.selected_servers(cloud, fleet.Selection(tags=["gone"]))


REQUEST = SnapshotRequest(series="daily", rotation=3, trigger="fleet", capture_step=0.01,
                          poll_interval=0.01)
SERVER_ID = "0e5c8a3e-51b4-4c1e-9d55-3f6f8f0b7a21"
SERVER = {"id": SERVER_ID, "name": "web1.example.org"}


def one_server_cloud():
    cloud = FakeCloud()
    cloud.add_server(id=SERVER_ID, name=SERVER["name"])
    return cloud


def test_one_server_is_backed_up_under_its_own_name_series_and_rotation():
    cloud = one_server_cloud()
    older = [cloud.add_image(instance_uuid=SERVER_ID, image_type="backup", backup_type=series)
             for series in ("daily", "daily", "daily", "weekly")]
    request = dataclasses.replace(REQUEST, wait="active")    # Nova rotates once it is active
    outcome = fleet_command.backup_one(cloud, SERVER, request, 5, fleet_command.ThreadLabel())
    assert not outcome.failed and outcome.state == "active"
    assert outcome.image_name.startswith("web1-daily-")
    image = cloud.images[outcome.image_id]
    assert image["name"] == outcome.image_name and image["backup_type"] == "daily"
    assert image["nsh_trigger"] == "fleet" and image["nsh_host"] == "web1"
    # rotation 3: Nova deleted the oldest daily backup only; the weekly one is another series
    assert set(cloud.images) == {*older[1:], outcome.image_id}


@pytest.mark.parametrize("trouble, message", [
    (lambda cloud: cloud.refusals.append(
        (409, f"Cannot 'createBackup' instance {SERVER_ID} while it is in vm_state rescued")),
     f"HTTP 409 Cannot 'createBackup' instance {SERVER_ID} while it is in vm_state rescued"),
    (lambda cloud: cloud.servers.clear(), "the server no longer exists (deleted during the run?)"),
    (lambda cloud: cloud.faults.update(get_server=[
        CloudError(f"reading server {SERVER_ID}: HTTP 500 boom", fix="retry")]),
     f"reading server {SERVER_ID}: HTTP 500 boom (retry)"),
    (lambda cloud: cloud.faults.update(get_server=[KeyError("image_id")]),
     "internal error: KeyError: 'image_id'"),
])
def test_a_failure_is_this_servers_outcome_and_never_escapes(trouble, message):
    cloud = one_server_cloud()
    trouble(cloud)
    outcome = fleet_command.backup_one(cloud, SERVER, REQUEST, 5, fleet_command.ThreadLabel())
    assert outcome.failed and outcome.state == "failed" and message in outcome.error
    assert outcome.server_name == "web1.example.org" and outcome.image_id is None


def test_worker_log_lines_carry_the_server_name(caplog):
    from nova_snapshot_hook.log import log
    label = fleet_command.ThreadLabel()
    labelled = fleet_command._LabelFilter(label)
    log.addFilter(labelled)
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=log.name):
            label.set("web1")
            log.info("Backup image %s requested", "x")
            label.set(None)
            log.info("summary")
    finally:
        log.removeFilter(labelled)
        log.removeHandler(caplog.handler)
    messages = [record.getMessage() for record in caplog.records]
    assert list(dict.fromkeys(messages)) == ["web1: Backup image x requested", "summary"]


def cli(*args):
    return run_cli(*args, settings="/dev/null", root=os.environ[paths.ROOT_ENVIRONMENT],
                   timeout=60)


@pytest.mark.parametrize("args, message", [
    (("fleet", "snapshot"), "say which servers: --all, --tag TAG or --metadata KEY[=VALUE]"),
    (("fleet", "snapshot", "--all", "--tag", "x"), "--all selects every server"),
    (("fleet", "snapshot", "daily", "0", "--all"), "ROTATION 0 is refused"),
    (("fleet", "snapshot", "Daily!", "--all"), "bad BACKUP_TYPE 'Daily!'"),
    (("fleet", "snapshot", "--all", "--concurrency", "0"), "--concurrency 0: give 1 to 64"),
    (("fleet", "snapshot", "--metadata", "=x"), "not KEY or KEY=VALUE"),
    (("fleet", "status", "--all", "--max-age", "soon"), "not an age such as"),
    (("fleet", "status", "--all", "--series", "A B"), "bad --series 'A B'"),
    (("fleet",), "the following arguments are required: ACTION"),
])
def test_bad_arguments_get_one_line_and_the_usage_status_before_any_request(args, message):
    result = cli(*args)
    usage = 3 if args[:2] == ("fleet", "status") else 2     # a monitoring plugin's UNKNOWN
    assert result.returncode == usage and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
