"""The fleet command's edge (fleet_command.py) against stand-ins for cloud.Cloud: Nova's pages
(read by Cloud.list_servers), one server's outcome, log lines labelled with the server,
arguments."""

import logging
import subprocess
import sys
import types

import pytest

from nova_snapshot_hook.rules import fleet_plan as fleet
from nova_snapshot_hook.cloud import client
from nova_snapshot_hook.commands import fleet as fleet_command
from nova_snapshot_hook.errors import ActionRefused, CloudError, IdentityError
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest


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


class FakeCloud:
    """cloud.Cloud's listing: what Nova returns, whatever the filters (recorded)."""

    def __init__(self, servers=()):
        self.servers, self.filters = list(servers), []

    def list_servers(self, **filters):
        self.filters.append(filters)
        return list(self.servers)


def test_listing_follows_novas_pages_on_our_own_endpoint():
    servers = [{"id": f"s{n}", "name": f"n{n}", "tags": ["t"]} for n in range(5)]
    cloud = paged_cloud(servers)
    listed = cloud.list_servers(**fleet.Selection(tags=["t"]).query())
    assert [s["id"] for s in listed] == ["s0", "s1", "s2", "s3", "s4"]
    assert cloud.nova.client.paths == [
        "/servers/detail?tags=t", "/servers/detail?limit=2&marker=s1&tags=t",
        "/servers/detail?limit=2&marker=s3&tags=t"]


def test_the_selection_lists_with_novas_own_filters_and_selects_the_rest_here():
    cloud = FakeCloud([{"id": "b", "name": "web", "tags": ["t"], "metadata": {"role": "web"}},
                       {"id": "a", "name": "db", "tags": ["t"], "metadata": {"role": "db"}}])
    selection = fleet.Selection(tags=["t"], metadata=[("role", "web")])
    assert [s["id"] for s in fleet_command.selected_servers(cloud, selection)] == ["b"]
    assert cloud.filters == [{"tags": "t"}]


def test_an_empty_selection_is_an_error_that_says_what_was_asked():
    with pytest.raises(Exception, match="no server matches: servers with tag gone"):
        fleet_command.selected_servers(FakeCloud([{"id": "a", "tags": []}]),
                                       fleet.Selection(tags=["gone"]))


class OneServerCloud:
    """Enough of cloud.Cloud for one Snapshotter run; `refuse` or `raise_` change the answer."""

    def __init__(self, refuse=None, raise_=None):
        self.refuse, self.raise_ = refuse, raise_

    def get_server(self, server_id):
        if self.raise_:
            raise self.raise_
        return {"id": server_id, "OS-EXT-STS:task_state": None}

    def server_action(self, server_id, action, body):
        self.body = body
        if self.refuse:
            raise ActionRefused(f"{action} of server {server_id}: HTTP 409 {self.refuse}",
                                status=409, detail=self.refuse)
        return {"image_id": "img-1"}, "req-1"

    def get_image(self, image_id):
        return {"id": image_id, "status": "active"}


REQUEST = SnapshotRequest(series="daily", rotation=3, trigger="fleet", capture_step=0.01,
                          poll_interval=0.01)
SERVER = {"id": "id-web1", "name": "web1.example.org"}


def test_one_server_is_backed_up_under_its_own_name_series_and_rotation():
    cloud = OneServerCloud()
    outcome = fleet_command.backup_one(cloud, SERVER, REQUEST, 5, fleet_command.ThreadLabel())
    assert not outcome.failed and outcome.state == "active" and outcome.image_id == "img-1"
    assert outcome.image_name.startswith("web1-daily-")
    assert cloud.body["backup_type"] == "daily" and cloud.body["rotation"] == 3
    assert cloud.body["metadata"]["nsh_trigger"] == "fleet"
    assert cloud.body["metadata"]["nsh_host"] == "web1"


@pytest.mark.parametrize("cloud, message", [
    (OneServerCloud(refuse="Cannot 'createBackup' instance id-web1 while it is in vm_state "
                           "rescued"), "HTTP 409 Cannot 'createBackup' instance id-web1 while "
                                       "it is in vm_state rescued"),
    (OneServerCloud(raise_=IdentityError("server id-web1 does not exist", fix="set [server] id")),
     "the server no longer exists (deleted during the run?)"),
    (OneServerCloud(raise_=CloudError("reading server id-web1: HTTP 500 boom", fix="retry")),
     "reading server id-web1: HTTP 500 boom (retry)"),
    (OneServerCloud(raise_=KeyError("image_id")), "internal error: KeyError: 'image_id'"),
])
def test_a_failure_is_this_servers_outcome_and_never_escapes(cloud, message):
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
    return subprocess.run([sys.executable, "-m", "nova_snapshot_hook", "--config", "/dev/null",
                           *args], capture_output=True, text=True, timeout=60)


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
def test_bad_arguments_get_one_line_and_exit_2_before_any_request(args, message):
    result = cli(*args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
