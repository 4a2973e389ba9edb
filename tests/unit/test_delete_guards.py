"""Deleting a backup safely (issue 22, items 3, 4 and 8): a planted block_device_mapping entry
never deletes a volume or someone else's snapshot; an image pinned, restored from or changed
since the listing is left whole; a page link off the catalog endpoint is never followed with
the token. Rotation, fleet and prune against FakeCloud; the HTTP calls of cloud.Cloud
against a fake transport (no network)."""

import contextlib
import copy
import json
import posixpath
import types

import pytest

from nova_snapshot_hook.backup import delete
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, Snapshotter
from nova_snapshot_hook.cloud import client
from nova_snapshot_hook.commands import fleet as fleet_command, prune
from nova_snapshot_hook.errors import CloudError
from nova_snapshot_hook.rules import naming, pinning, volumes

from fake_clock import FakeClock
from fake_cloud import ATTACHED, FakeCloud
from fake_transport import CINDER, GLANCE, cloud_over

SERVER = "11111111-2222-3333-4444-555555555555"
ROOT, DATA = "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"
VICTIM = "bbbbbbbb-0000-4000-8000-000000000003"          # someone else's volume, unattached
ELSEWHERE = "bbbbbbbb-0000-4000-8000-000000000004"       # a volume with someone's snapshot


def uid(n):
    return f"cccccccc-0000-4000-8000-{n:012d}"


def backup_image(image_id, created, snapshot_ids, series="daily", **extra):
    name = f"web01-{series}-{created}"
    image = {"id": image_id, "name": name, "status": "active", "created_at": created,
             "image_type": "snapshot", "size": 0, "protected": False,
             **naming.own_properties(SERVER, series, "web01", "schedule", "createImage", name),
             "block_device_mapping": json.dumps([
                 {"boot_index": 0 if n == 0 else None, "source_type": "snapshot",
                  "destination_type": "volume", "snapshot_id": sid, "volume_size": 1}
                 for n, sid in enumerate(snapshot_ids)])}
    image.update(extra)
    return image


class CollapsingCloud(FakeCloud):
    """Cinder as a snapshot id unchecked in the URL path would reach it: urllib3 collapses dot
    segments, so `../volumes/ID` deletes volume ID. Records the id as asked."""

    def delete_volume_snapshot(self, snapshot_id):
        self._enter("delete_volume_snapshot", snapshot_id)
        path = posixpath.normpath(f"/v3/project/snapshots/{snapshot_id}")
        kind, _, target = path[len("/v3/project/"):].partition("/")
        (self.volumes_by_id if kind == "volumes" else self.snapshots).pop(target, None)
        self._leave("delete_volume_snapshot")


def snap(sid, volume, image_id=None):
    return {"id": sid, "status": "available", "volume_id": volume, "size": 1,
            "metadata": volumes.our_marks(image_id, SERVER) if image_id else {}}


OLD, OLD_ROOT, OLD_DATA = uid(1), uid(11), uid(12)
KEPT, KEPT_ROOT, KEPT_DATA = uid(2), uid(21), uid(22)
FOREIGN = uid(31)                      # a snapshot of ELSEWHERE, nothing of ours
PLANTED = f"../volumes/{VICTIM}"
VOLUMES = {ROOT, DATA, VICTIM, ELSEWHERE}


def planted_cloud(extra_entries=(PLANTED, FOREIGN)):
    """SERVER boots from ROOT with DATA attached; two backups of a series keeping 2, the older
    one's mapping carrying planted entries."""
    cloud = CollapsingCloud()
    for volume_id in VOLUMES:
        cloud.volumes_by_id[volume_id] = {"id": volume_id, "size": 1, "status": "in-use",
                                          "bootable": str(volume_id == ROOT).lower()}
    cloud.add_server(id=SERVER, image="", **{ATTACHED: [{"id": ROOT}, {"id": DATA}]})
    cloud.add_image(**backup_image(OLD, "2026-11-01T00:00:00Z",
                                   [OLD_ROOT, OLD_DATA, *extra_entries]))
    cloud.add_image(**backup_image(KEPT, "2026-11-02T00:00:00Z", [KEPT_ROOT, KEPT_DATA]))
    for snapshot in (snap(OLD_ROOT, ROOT, OLD), snap(OLD_DATA, DATA, OLD),
                     snap(KEPT_ROOT, ROOT, KEPT), snap(KEPT_DATA, DATA, KEPT),
                     snap(FOREIGN, ELSEWHERE)):
        cloud.snapshots[snapshot["id"]] = snapshot
    return cloud


def asked(cloud):
    """Every snapshot id Cinder was asked to delete, sorted."""
    return sorted(cloud.called("delete_volume_snapshot"))


def rotate(cloud, series="daily", rotation=2):
    clock = FakeClock()
    return Snapshotter(cloud, SERVER, SnapshotRequest(series=series, rotation=rotation,
                                                      method="image"),
                       clock() + 60, "web01", clock=clock, sleep=clock.sleep).run()


# -- item 3: a planted mapping -----------------------------------------------------------------
def test_rotation_deletes_neither_a_planted_volume_path_nor_someone_elses_snapshot(warnings):
    cloud = planted_cloud()
    result = rotate(cloud)
    assert result.rotated == [OLD]
    assert set(cloud.volumes_by_id) == VOLUMES
    assert FOREIGN in cloud.snapshots and asked(cloud) == sorted([OLD_ROOT, OLD_DATA])
    assert OLD_ROOT not in cloud.snapshots and OLD_DATA not in cloud.snapshots  # the real ones go
    assert cloud.called("delete_image") == [OLD] and KEPT in cloud.images
    planted = [w for w in warnings if PLANTED in w]
    foreign = [w for w in warnings if FOREIGN in w]
    assert len(planted) == 1 and OLD in planted[0] and "not a snapshot id" in planted[0]
    assert len(foreign) == 1 and OLD in foreign[0] and ELSEWHERE in foreign[0]


def test_a_snapshot_of_our_own_volume_marked_for_another_backup_is_not_deleted(warnings):
    # the UUID of the kept backup's own snapshot, planted in the older one: deleting it would
    # break the backup that is kept
    cloud = planted_cloud(extra_entries=(KEPT_ROOT,))
    rotate(cloud)
    assert KEPT_ROOT in cloud.snapshots and OLD_ROOT not in cloud.snapshots
    assert any(KEPT_ROOT in w and KEPT in w for w in warnings)


def test_prune_deletes_neither_the_planted_volume_nor_the_foreign_snapshot(capsys, warnings):
    cloud = planted_cloud()
    run_prune(cloud, keep=1)
    assert set(cloud.volumes_by_id) == VOLUMES and FOREIGN in cloud.snapshots
    assert asked(cloud) == sorted([OLD_ROOT, OLD_DATA])
    assert OLD_ROOT not in cloud.snapshots and OLD_DATA not in cloud.snapshots
    assert cloud.called("delete_image") == [OLD] and OLD not in cloud.images


def test_fleet_deletes_neither_the_planted_volume_nor_the_foreign_snapshot(warnings):
    cloud = planted_cloud()
    from nova_snapshot_hook.cloud.image_poll import SharedImagePoll
    request = SnapshotRequest(series="daily", rotation=2, method="image", trigger="fleet",
                              capture_step=0.01, poll_interval=0.01)
    outcome = fleet_command.backup_one(SharedImagePoll(cloud, 0.005),
                                       {"id": SERVER, "name": "web01"}, request, 30,
                                       fleet_command.ThreadLabel())
    assert not outcome.failed, outcome.error
    assert set(cloud.volumes_by_id) == VOLUMES and FOREIGN in cloud.snapshots
    assert OLD not in cloud.images and OLD_ROOT not in cloud.snapshots
    assert asked(cloud) == sorted([OLD_ROOT, OLD_DATA])


def test_a_snapshot_of_a_volume_detached_since_goes_with_its_backup_by_our_marks():
    # a data volume detached after the older backup: its snapshot is still part of that backup
    cloud = planted_cloud(extra_entries=())
    cloud.servers[SERVER][ATTACHED] = [{"id": ROOT}]
    rotate(cloud)
    assert OLD not in cloud.images and OLD_DATA not in cloud.snapshots
    assert set(cloud.volumes_by_id) == VOLUMES and FOREIGN in cloud.snapshots


def test_an_unmarked_snapshot_of_a_volume_detached_since_is_left_with_a_warning(warnings):
    cloud = planted_cloud(extra_entries=())
    cloud.servers[SERVER][ATTACHED] = [{"id": ROOT}]
    cloud.snapshots[OLD_DATA]["metadata"] = {}         # its marks never made it
    rotate(cloud)
    assert OLD_DATA in cloud.snapshots and OLD_ROOT not in cloud.snapshots
    assert any(OLD_DATA in w and "does not carry our marks" in w for w in warnings)


def test_an_orphan_of_the_servers_own_volume_is_still_swept():
    cloud = planted_cloud(extra_entries=())
    lost = uid(41)
    cloud.snapshots[lost] = snap(lost, ROOT, uid(98))      # its image was deleted alone
    rotate(cloud)
    assert lost not in cloud.snapshots and lost in cloud.called("delete_volume_snapshot")


@pytest.mark.parametrize("value", [
    "../volumes/" + VICTIM, VICTIM + "/../../volumes/" + VICTIM, VICTIM + "\n", " " + VICTIM,
    VICTIM.replace("-", ""), "{" + VICTIM + "}", "%2e%2e/volumes/" + VICTIM, "", 42, None])
def test_only_a_canonical_uuid_is_a_snapshot_id(value):
    image = {"block_device_mapping": json.dumps([{"snapshot_id": value},
                                                 {"snapshot_id": OLD_ROOT}])}
    assert volumes.snapshot_ids(image) == [OLD_ROOT]
    assert naming.is_uuid(OLD_ROOT) and naming.is_uuid(OLD_ROOT.upper())
    assert not naming.is_uuid(value)


# -- item 4: the image changed since the listing: FakeCloud.between["list_images"] --------------
def pin(cloud):
    image = cloud.images[OLD]
    image.update({op["path"][1:]: op["value"] for op in pinning.pin_patch(image)})


def restore_protects(cloud):
    cloud.images[OLD]["protected"] = True


def becomes_someone_elses(cloud):
    cloud.images[OLD][naming.SERVER_PROPERTY] = uid(77)


def deactivated(cloud):
    cloud.images[OLD]["status"] = "deactivated"


CHANGES = [pin, restore_protects, becomes_someone_elses, deactivated]


@pytest.mark.parametrize("change", CHANGES)
def test_rotation_leaves_an_image_changed_since_its_listing_whole(change, warnings):
    cloud = planted_cloud(extra_entries=())
    cloud.between["list_images"] = change
    result = rotate(cloud)
    assert result.rotated == []
    assert OLD in cloud.images and OLD_ROOT in cloud.snapshots and OLD_DATA in cloud.snapshots
    assert volumes.DELETING_PROPERTY not in cloud.images[OLD]
    assert len(warnings) == 1 and OLD in warnings[0] and "Not deleting" in warnings[0]


@pytest.mark.parametrize("change", CHANGES)
def test_prune_leaves_an_image_changed_since_its_listing_whole(change, capsys, warnings):
    cloud = planted_cloud(extra_entries=())
    cloud.between["list_images"] = change
    run_prune(cloud, keep=1)
    assert OLD in cloud.images and OLD_ROOT in cloud.snapshots and OLD_DATA in cloud.snapshots
    assert len(warnings) == 1 and OLD in warnings[0]


def test_an_image_gone_since_the_listing_is_one_info_line_and_nothing_else(capsys, warnings):
    cloud = planted_cloud(extra_entries=())
    cloud.between["list_images"] = lambda cloud: cloud.images.pop(OLD)
    run_prune(cloud, keep=1)
    assert warnings == [] and cloud.called("delete_image") == [] and OLD_ROOT in cloud.snapshots


def test_an_entry_planted_after_the_listing_is_held_to_the_same_rules(warnings):
    cloud = planted_cloud(extra_entries=())

    def plant(cloud):
        image = cloud.images[OLD]
        image["block_device_mapping"] = image["block_device_mapping"].replace(
            OLD_DATA, FOREIGN)
    cloud.between["list_images"] = plant
    rotate(cloud)
    assert FOREIGN in cloud.snapshots and FOREIGN not in asked(cloud)


def test_prune_of_a_server_that_is_gone_deletes_only_what_our_marks_name(capsys, warnings):
    cloud = planted_cloud()
    del cloud.servers[SERVER]
    run_prune(cloud, keep=1)
    assert cloud.called("delete_image") == [OLD] and set(cloud.volumes_by_id) == VOLUMES
    assert asked(cloud) == sorted([OLD_ROOT, OLD_DATA])
    assert OLD_ROOT not in cloud.snapshots and OLD_DATA not in cloud.snapshots
    assert FOREIGN in cloud.snapshots
    assert any("cannot read the volumes" in w for w in warnings)


def test_what_changed_since_the_listing_is_named():
    listed = backup_image(OLD, "2026-11-01T00:00:00Z", [OLD_ROOT])
    assert delete.changed(listed, copy.deepcopy(listed), SERVER) is None
    assert "no longer exists" in delete.changed(listed, None, SERVER)
    assert "protected" in delete.changed(listed, dict(listed, protected=True), SERVER)
    moved = dict(listed, **{naming.SERIES_PROPERTY: "weekly"})
    assert "series daily" in delete.changed(listed, moved, SERVER)
    assert "status changed" in delete.changed(listed, dict(listed, status="queued"), SERVER)
    # a half-done deletion is finished whatever its status; our own failed new image whatever
    # its properties say, but never once protected
    half = dict(listed, **{volumes.DELETING_PROPERTY: "2026-11-02T00:00:00Z"})
    assert delete.changed(half, dict(half, status="killed"), SERVER) is None
    bare = {"id": OLD, "status": "killed"}
    assert delete.changed(bare, bare, SERVER, new=True) is None
    assert delete.changed(bare, dict(bare, protected=True), SERVER, new=True)


# -- the glue: prune with a stand-in context ----------------------------------------------------
def run_prune(cloud, keep):
    settings = types.SimpleNamespace(timeout=60, apt_series="apt", apt_rotation=5, daily=keep,
                                     weekly=0, monthly=0, yearly=0)

    class Ctx:
        server_id = SERVER

        @contextlib.contextmanager
        def bounded(self, seconds, last_words=None):
            yield 0
    ctx = Ctx()
    ctx.settings, ctx.cloud = settings, cloud
    return prune.run(ctx, types.SimpleNamespace(series=None, keep=keep, delete=True, json=False))


# -- item 8 and the URL guard: cloud.Cloud over a fake transport -----------------------------------
def snapshot_page(n, next_href=None):
    page = {"snapshots": [snap(uid(n), ROOT)]}
    if next_href:
        page["snapshots_links"] = [{"rel": "next", "href": next_href}]
    return page


ELSEWHERE_LINKS = [
    "http://127.0.0.1:8/volume/v3/project/snapshots/detail?marker=x",        # another port
    "https://127.0.0.1:8776/volume/v3/project/snapshots/detail?marker=x",    # another scheme
    "http://evil.example:8776/volume/v3/project/snapshots/detail?marker=x",  # another host
    "http://127.0.0.1:8776/volume/v3/other/snapshots/detail?marker=x",       # another project
    "http://127.0.0.1:8776/volume/v3/projectX/snapshots/detail?marker=x",    # not below it
    "http://127.0.0.1:8776/volume/v3/project/../../identity/v3/auth/tokens",  # climbs out
    "http://user@127.0.0.1:8776/volume/v3/project/snapshots/detail?marker=x",
    "//evil.example/volume/v3/project/snapshots/detail",
]


@pytest.mark.parametrize("href", ELSEWHERE_LINKS)
def test_a_cinder_page_link_off_its_endpoint_is_not_followed(href):
    cloud, transport = cloud_over({CINDER + "/snapshots/detail": [snapshot_page(1, href)],
                                   href.partition("?")[0]: [snapshot_page(2)]})
    with pytest.raises(CloudError, match="next-page link .* not on its catalog endpoint"):
        cloud.volume_snapshots()
    assert [url for _, url, _ in transport.sent] == [CINDER + "/snapshots/detail"]


def test_a_cinder_page_link_on_its_endpoint_is_followed():
    second = CINDER + "/snapshots/detail?marker=" + uid(1)
    cloud, transport = cloud_over({CINDER + "/snapshots/detail": [snapshot_page(1, second),
                                                                  snapshot_page(2)]})
    assert [s["id"] for s in cloud.volume_snapshots()] == [uid(1), uid(2)]
    assert [url for _, url, _ in transport.sent] == [CINDER + "/snapshots/detail", second]


@pytest.mark.parametrize("href", ["http://127.0.0.1:8/v2/images?marker=x",
                                  "http://127.0.0.1:9292/v2/images?marker=x",   # not below /image
                                  "//127.0.0.1:8/image/v2/images?marker=x",
                                  "/../identity/v3/auth/tokens"])
def test_a_glance_next_off_its_endpoint_is_not_followed(href):
    cloud, transport = cloud_over({GLANCE + "/v2/images": [{"images": [{"id": "a"}],
                                                            "next": href},
                                                           {"images": [{"id": "b"}]}]})
    with pytest.raises(CloudError, match="Glance's next-page link"):
        cloud.list_images()
    assert len(transport.sent) == 1


@pytest.mark.parametrize("href", ["/v2/images?marker=a", GLANCE + "/v2/images?marker=a"])
def test_a_glance_next_on_its_endpoint_is_followed(href):
    cloud, transport = cloud_over({GLANCE + "/v2/images": [{"images": [{"id": "a"}],
                                                            "next": href},
                                                           {"images": [{"id": "b"}]}]})
    assert [i["id"] for i in cloud.list_images()] == ["a", "b"]
    assert transport.sent[1][1] == GLANCE + "/v2/images?marker=a"


@pytest.mark.parametrize("call", [
    lambda cloud, bad: cloud.delete_volume_snapshot(bad),
    lambda cloud, bad: cloud.mark_volume_snapshot(bad, {"nsh_image": "x"}),
    lambda cloud, bad: cloud.volumes([bad]),
])
def test_a_cinder_id_that_is_not_a_uuid_never_reaches_a_url(call):
    cloud, transport = cloud_over({})
    with pytest.raises(CloudError, match="not a UUID"):
        call(cloud, "../volumes/" + VICTIM)
    assert transport.sent == []
    call(cloud, VICTIM)
    assert len(transport.sent) == 1 and VICTIM in transport.sent[0][1]
    assert transport.sent[0][1].startswith(CINDER) and ".." not in transport.sent[0][1]


def test_page_link_is_pure_and_keeps_to_the_endpoint():
    assert client.page_link("/v2/images?marker=a", "http://h:9292") == \
        "http://h:9292/v2/images?marker=a"
    assert client.page_link("http://H:80/v3/p/snapshots/detail", "http://h/v3/p") == \
        "http://H:80/v3/p/snapshots/detail"
    assert client.page_link("http://h:8776/v3/p/./snapshots", "http://h:8776/v3/p") is None
    assert client.page_link("http://h:bad/v3/p/x", "http://h/v3/p") is None
    assert client.page_link({"href": "x"}, "http://h/v3/p") is None
