"""cloud.Cloud's edge: plain data out (novaclient's objects turned into dicts), a HookError for
every failure. Against novaclient's own resource classes and stand-ins for its managers."""

import types

import pytest
from keystoneauth1 import session as ksa_session
from novaclient import exceptions as nova_exc
from novaclient.v2 import flavors, servers
from requests import exceptions as requests_exc

from nova_snapshot_hook.cloud import client
from nova_snapshot_hook.errors import CloudError, IdentityError

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
