"""cloud.Cloud's edge: plain data out (novaclient's objects turned into dicts), a HookError for
every failure. Against novaclient's own resource classes and stand-ins for its managers."""

import json
import types

import pytest
from keystoneauth1 import session as ksa_session
from novaclient import exceptions as nova_exc
from novaclient.v2 import flavors, servers
from requests import exceptions as requests_exc

from nova_snapshot_hook.api_versions import IMAGE_PATCH, MICROVERSION
from nova_snapshot_hook.backup.snapshotter import (SnapshotRequest, Snapshotter, accepted_image_id,
                                                   backup_call, planned_call)
from nova_snapshot_hook.cloud import client
from nova_snapshot_hook.errors import ActionRefused, CloudError, IdentityError
from nova_snapshot_hook.rules import restore_plan
from nova_snapshot_hook.text import Call

from fake_clock import FakeClock
from fake_cloud import FakeCloud
from fake_transport import GLANCE, NOVA, cloud_over

SERVER = "11111111-2222-3333-4444-555555555555"
NOVA_SERVER = {"id": SERVER, "name": "web01", "status": "ACTIVE", "image": "",
               "OS-EXT-STS:task_state": None,
               "os-extended-volumes:volumes_attached": [{"id": "vol-1"}]}


def cloud_with(**nova):
    credentials = types.SimpleNamespace(region_name="", interface="public", source="test",
                                        auth_url="http://127.0.0.1:5000/v3", auth_type="password")
    cloud = client.Cloud(credentials, ksa_session.Session())
    cloud.nova = types.SimpleNamespace(**nova)
    return cloud


def test_a_server_is_novas_dict_not_a_novaclient_object():
    manager = types.SimpleNamespace(get=lambda server_id: servers.Server(
        manager, dict(NOVA_SERVER, id=server_id), loaded=True))
    server = cloud_with(servers=manager).get_server(SERVER)
    assert type(server) is dict and server == NOVA_SERVER
    assert server.get("OS-EXT-STS:task_state") is None


def test_a_server_that_is_gone_is_an_identity_error():
    def gone(server_id):
        raise nova_exc.NotFound(404, "Instance could not be found")
    with pytest.raises(IdentityError, match="does not exist"):
        cloud_with(servers=types.SimpleNamespace(get=gone)).get_server(SERVER)


def test_a_flavor_is_its_id_and_an_ambiguous_name_is_a_cloud_error():
    def get(flavor):
        raise nova_exc.NotFound(404, "Flavor could not be found")

    def find(name):
        if name == "twice":
            raise nova_exc.NoUniqueMatch()
        return flavors.Flavor(None, {"id": "f-1", "name": name}, loaded=True)

    cloud = cloud_with(flavors=types.SimpleNamespace(get=get, find=find))
    assert cloud.flavor_id("small") == "f-1"
    with pytest.raises(CloudError, match="more than one flavor is named 'twice'"):
        cloud.flavor_id("twice")


def test_an_answer_that_is_not_json_is_a_cloud_error():
    class NotJson:
        def json(self):
            raise requests_exc.JSONDecodeError("Expecting value", "<html>", 0)

    cloud = cloud_with()
    cloud.glance = types.SimpleNamespace(get=lambda *args, **kwargs: NotJson())
    with pytest.raises(CloudError, match="reading image img-1: the cloud's answer is not JSON"):
        cloud.get_image("img-1")


# -- execute: a dry run's Call is what goes on the wire ------------------------------------------
IMAGE = "22222222-3333-4444-5555-666666666666"


def sent_as(transport):
    """The last request as (method, url, the JSON body, its version and content headers)."""
    request = transport.requests[-1]
    return (request.method, request.url, json.loads(request.body),
            request.headers.get("OpenStack-API-Version"), request.headers.get("Content-Type"))


@pytest.mark.parametrize("call, url, version, content_type", [
    (restore_plan.protect_call(IMAGE), f"{GLANCE}/v2/images/{IMAGE}", None, IMAGE_PATCH),
    (restore_plan.rebuild_call(SERVER, IMAGE), f"{NOVA}/servers/{SERVER}/action",
     f"compute {MICROVERSION}", "application/json"),
    (restore_plan.create_call({"server": {"name": "n", "imageRef": IMAGE, "flavorRef": "1",
                                          "networks": "none"}}), f"{NOVA}/servers",
     f"compute {MICROVERSION}", "application/json"),
])
def test_execute_sends_the_call_exactly_as_a_dry_run_prints_it(call, url, version, content_type):
    cloud, transport = cloud_over({})
    answer, request_id = cloud.execute(call)
    assert sent_as(transport) == (call.method, url, call.body, version, content_type)
    assert call.header().startswith(f"{call.method} <{call.service}>{call.path}")
    assert (answer, request_id) == ({}, "req-1")


def test_a_backup_request_is_the_planned_call_and_its_answer_names_the_image():
    request = SnapshotRequest(series="daily", rotation=3)
    call = backup_call(SERVER, "web01", request, "backup", "web01-daily-x", 1_800_000_000)
    cloud, transport = cloud_over({f"{NOVA}/servers/{SERVER}/action": [{"image_id": IMAGE}]})
    answer, request_id = cloud.execute(call)
    assert sent_as(transport)[:3] == ("POST", f"{NOVA}/servers/{SERVER}/action", call.body)
    assert accepted_image_id(answer, call) == IMAGE and request_id == "req-1"


@pytest.mark.parametrize("answer", [{}, {"image_id": "../../images"}, {"image_id": None}, []])
def test_a_backup_answer_without_an_image_uuid_is_one_line_not_a_key_error(answer):
    call = backup_call(SERVER, "web01", SnapshotRequest(), "backup", "n", 0)
    with pytest.raises(CloudError, match="named no image id"):
        accepted_image_id(answer, call)


@pytest.mark.parametrize("path, status, refused", [
    (f"/servers/{SERVER}/action", 409, True), (f"/servers/{SERVER}/action", 400, True),
    (f"/servers/{SERVER}/action", 403, False), ("/servers", 400, False)])
def test_novas_400_and_409_to_an_action_are_refusals_the_caller_may_wait_out(path, status,
                                                                              refused):
    cloud, _ = cloud_over({NOVA + path: [(status, {"conflictingRequest": {
        "message": "Cannot 'rebuild' instance while it is in task_state x"}})]})
    call = Call("POST", "compute", path, {"rebuild": {"imageRef": IMAGE}} if refused or
                status == 403 else {"server": {"name": "n"}})
    with pytest.raises(CloudError, match=f"HTTP {status}") as raised:
        cloud.execute(call)
    assert isinstance(raised.value, ActionRefused) is refused
    assert "\n" not in str(raised.value)


def test_a_volume_backed_servers_dry_run_shows_createimage_as_the_real_run_sends():
    fake = FakeCloud()
    server_id = fake.add_server(volume_backed=True)
    request = SnapshotRequest(series="daily", rotation=2)
    planned = planned_call(server_id, "web01", request, fake.get_server(server_id))
    assert list(planned.body) == ["createImage"]
    clock = FakeClock()
    Snapshotter(fake, server_id, request, clock() + 60, "web01", clock=clock,
                sleep=clock.sleep).run()
    assert fake.called("execute") == ["createImage"]
