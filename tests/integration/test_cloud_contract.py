"""The unit tests' fake cloud (tests/fake_cloud.py) held to the real one: each scenario runs
against the fake and against the local cloud through cloud.Cloud, and asserts the same things.
A scenario that passes on the fake and fails here means the fake lies to the unit tests.
"""

import time
import types
import uuid

import pytest

from cloud_fixtures import read_state
from fake_cloud import ATTACHED, TASK_STATE, FakeCloud
from nova_snapshot_hook.backup.snapshotter import backup_call
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest
from nova_snapshot_hook.errors import ActionRefused, CloudError, IdentityError
from nova_snapshot_hook.rules import capture, naming, volumes

SERIES = "contract"


class Edge:
    """A cloud (fake or real) with an image-backed and a volume-backed server, and a pause
    between looks that the fake does not need."""

    def __init__(self, cloud, server, bfv_server, pause):
        self.cloud, self.server, self.bfv_server, self.pause = cloud, server, bfv_server, pause
        self.made = []

    def until(self, probe, what, timeout=90):
        end = time.monotonic() + timeout
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > end:
                raise AssertionError(f"not {what} within {timeout} s")
            time.sleep(self.pause)

    def backup(self, server, method="backup", rotation=2, series=SERIES):
        request = SnapshotRequest(series=series, rotation=rotation, trigger="test")
        name = naming.image_name("contract", series, time.time())
        answer, request_id = self.cloud.execute(
            backup_call(server, "contract", request, method, name, time.time()))
        self.made.append(answer.get("image_id"))
        return answer, request_id, name

    def next_second(self):
        """Nova's rotation sorts on Glance's whole-second created_at and breaks no tie: on the
        real cloud, each backup of a rotation scenario starts in a second of its own."""
        if self.pause:
            time.sleep(1.01 - time.time() % 1)

    def idle(self, server):
        return self.until(lambda: self.cloud.get_server(server)[TASK_STATE] is None, "idle")

    def active(self, image_id):
        return self.until(lambda: (self.cloud.get_image(image_id) or {}).get("status")
                          == "active" and self.cloud.get_image(image_id), "active")


@pytest.fixture
def fake_edge():
    cloud = FakeCloud()
    return Edge(cloud, cloud.add_server(), cloud.add_server(volume_backed=True, volumes=1), 0)


@pytest.fixture
def real_edge(minicloud, tmp_path):
    from nova_snapshot_hook.cloud.credentials import load_credentials
    from nova_snapshot_hook.cloud.session import open_cloud
    if not minicloud.get("bfv_server"):
        pytest.fail("the local cloud has no volume-backed server: rerun minicloud/up")
    credentials = tmp_path / "credentials"
    credentials.write_text(read_state("openrc") + "\n")
    credentials.chmod(0o600)
    settings = types.SimpleNamespace(https_proxy="", no_proxy="", api_timeout=30)
    cloud = open_cloud(load_credentials(str(credentials)), settings)
    edge = Edge(cloud, minicloud["server"], minicloud["bfv_server"], 0.3)
    for server in (edge.server, edge.bfv_server):
        edge.idle(server)
    yield edge
    for server in (edge.server, edge.bfv_server):
        edge.idle(server)
    for image_id in edge.made:
        image = cloud.get_image(image_id) if image_id else None
        if image is None:
            continue
        if image.get("protected"):
            cloud.patch_image(image_id, [{"op": "replace", "path": "/protected", "value": False}])
        for snapshot_id in volumes.snapshot_ids(image):
            cloud.delete_volume_snapshot(snapshot_id)
        cloud.delete_image(image_id)


@pytest.fixture(params=["fake", "real"])
def edge(request):
    return request.getfixturevalue(f"{request.param}_edge")


def test_a_server_reads_as_novas_dict(edge):
    server = edge.cloud.get_server(edge.server)
    assert server["id"] == edge.server and server[TASK_STATE] is None
    assert naming.is_uuid(server["image"]["id"])
    bfv = edge.cloud.get_server(edge.bfv_server)
    assert bfv["image"] == "" and volumes.is_volume_backed(bfv)
    assert all(naming.is_uuid(volume["id"]) for volume in bfv[ATTACHED])
    with pytest.raises(IdentityError, match="does not exist"):
        edge.cloud.get_server(str(uuid.uuid4()))


def test_create_backup_makes_our_image_and_blocks_a_second_request_meanwhile(edge):
    answer, request_id, name = edge.backup(edge.server)
    image_id = answer["image_id"]
    assert naming.is_uuid(image_id) and request_id
    with pytest.raises(ActionRefused) as refused:
        edge.backup(edge.server)
    assert capture.is_task_state_conflict(refused.value.status, refused.value.detail)
    image = edge.active(image_id)
    assert (image["name"], image["image_type"], image["backup_type"]) == (name, "backup", SERIES)
    assert image["instance_uuid"] == edge.server and image[naming.SERVER_PROPERTY] == edge.server
    assert naming.made_by_us(image) and image[naming.SERIES_PROPERTY] == SERIES
    edge.idle(edge.server)
    assert edge.cloud.action_failed(edge.server, request_id) is False


def test_novas_rotation_keeps_the_newest_backups_of_the_series(edge):
    made = []
    for _ in range(3):
        edge.next_second()
        answer, _, _ = edge.backup(edge.server, rotation=2)
        edge.active(answer["image_id"])
        edge.idle(edge.server)
        made.append(answer["image_id"])
    kept = edge.until(lambda: (lambda ids: ids if len(ids) == 2 else None)(
        {image["id"] for image in edge.cloud.list_images(instance_uuid=edge.server,
                                                         backup_type=SERIES)}),
        "rotated to two backups")
    assert kept == set(made[1:])


def test_create_backup_of_a_volume_backed_server_is_refused_for_createimage(edge):
    with pytest.raises(ActionRefused) as refused:
        edge.backup(edge.bfv_server)
    assert capture.is_volume_backed_refusal(refused.value.status, refused.value.detail)


def test_create_image_of_a_volume_backed_server_names_one_snapshot_per_volume(edge):
    attached = [volume["id"] for volume in edge.cloud.get_server(edge.bfv_server)[ATTACHED]]
    answer, _, name = edge.backup(edge.bfv_server, method="image")
    image = edge.active(answer["image_id"])
    assert image["name"] == name and image[naming.SERVER_PROPERTY] == edge.bfv_server
    assert "instance_uuid" not in image and int(image.get("size") or 0) == 0
    snapshot_ids = volumes.snapshot_ids(image)
    assert len(snapshot_ids) == len(attached)

    def settled():
        mine = {snap["id"]: snap for snap in edge.cloud.volume_snapshots()
                if snap["id"] in snapshot_ids}
        return mine if all(snap["status"] == "available" for snap in mine.values()) else None

    snapshots = edge.until(settled, "available")
    assert sorted(snap["volume_id"] for snap in snapshots.values()) == sorted(attached)
    edge.cloud.mark_volume_snapshot(snapshot_ids[0], {"nsh_image": image["id"]})
    marked = [snap for snap in edge.cloud.volume_snapshots() if snap["id"] == snapshot_ids[0]]
    assert marked[0]["metadata"]["nsh_image"] == image["id"]
    assert edge.cloud.volumes(attached + [str(uuid.uuid4())])[0]["id"] == attached[0]
    assert len(edge.cloud.volumes(attached + [str(uuid.uuid4())])) == len(attached)


def test_glance_answers_as_the_tool_expects(edge):
    answer, _, _ = edge.backup(edge.server)
    image_id = edge.active(answer["image_id"])["id"]
    edge.idle(edge.server)
    assert edge.cloud.get_image(str(uuid.uuid4())) is None
    edge.cloud.delete_image(str(uuid.uuid4()))                 # nothing to delete is no error
    edge.cloud.set_image_properties(image_id, {"nsh_note": "a"})
    assert [image["id"] for image in edge.cloud.list_images(nsh_note="a")] == [image_id]
    assert edge.cloud.list_images(id=f"in:{image_id},{uuid.uuid4()}")[0]["id"] == image_id
    with pytest.raises(CloudError, match="HTTP 409"):          # all of a patch or nothing
        edge.cloud.patch_image(image_id, [{"op": "add", "path": "/nsh_other", "value": "b"},
                                          {"op": "remove", "path": "/nsh_missing"}])
    assert "nsh_other" not in edge.cloud.get_image(image_id)
    edge.cloud.remove_image_properties(image_id, ["nsh_note"])
    assert "nsh_note" not in edge.cloud.get_image(image_id)
    edge.cloud.patch_image(image_id, [{"op": "replace", "path": "/protected", "value": True}])
    with pytest.raises(CloudError, match="HTTP 403"):
        edge.cloud.delete_image(image_id)
    assert edge.cloud.get_image(image_id)["protected"] is True
