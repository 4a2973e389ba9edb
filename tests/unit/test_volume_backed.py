"""Volume-backed backups: the Cinder snapshots an image names, captured or not, deleted with the
image, orphans, the snapshot quota, pins. Pure rules, and deletion and the Snapshotter
against FakeCloud."""

import copy
import json
import types
import uuid

import pytest

from nova_snapshot_hook import views
from nova_snapshot_hook.backup import delete
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, Snapshotter
from nova_snapshot_hook.errors import CloudError
from nova_snapshot_hook.rules import capture, naming, pinning, retention, rotation, volumes

from fake_clock import FakeClock
from fake_cloud import FakeCloud

SERVER = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"


def sid(name):
    """A snapshot id as Cinder makes them: the mapping's ids are read only as UUIDs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def bdm(*snapshots, size=1):
    return json.dumps([{"boot_index": 0 if n == 0 else None, "source_type": "snapshot",
                        "destination_type": "volume", "snapshot_id": sid, "volume_size": size}
                       for n, sid in enumerate(snapshots)])


def our_image(image_id, created, series="daily", snapshots=(), status="active", **extra):
    name = f"web01-{series}-{image_id}"
    image = {"id": image_id, "name": name, "status": status, "created_at": created,
             "image_type": "snapshot", "instance_uuid": SERVER, "size": 0, "protected": False,
             **naming.own_properties(SERVER, series, "web01", "schedule", "createImage", name)}
    if snapshots:
        image["block_device_mapping"] = bdm(*snapshots)
    image.update(extra)
    return image


# -- the rules --------------------------------------------------------------------------------
def test_snapshot_ids_read_the_mapping_as_json_text_or_list_and_skip_the_rest():
    s1, s2 = sid("s1"), sid("s2")
    assert volumes.snapshot_ids({"block_device_mapping": bdm(s1, s2)}) == [s1, s2]
    assert volumes.snapshot_ids({"block_device_mapping": json.loads(bdm(s1, s1))}) == [s1]
    assert volumes.snapshot_ids({"block_device_mapping": bdm("../volumes/" + s2, s1)}) == [s1]
    assert volumes.snapshot_ids({"block_device_mapping": "{not json"}) == []
    assert volumes.snapshot_ids({"block_device_mapping": json.dumps(
        [{"source_type": "image", "uuid": "x"}])}) == []
    assert volumes.snapshot_ids({}) == [] and volumes.snapshot_ids(None) == []


def test_a_server_without_image_and_with_volumes_boots_from_a_volume():
    attached = {"os-extended-volumes:volumes_attached": [{"id": "v1"}]}
    assert volumes.is_volume_backed(dict(attached, image=""))
    assert not volumes.is_volume_backed(dict(attached, image={"id": "img"}))
    assert not volumes.is_volume_backed({"image": ""})


@pytest.mark.parametrize("statuses, state", [
    (["available", "available"], capture.CAPTURED),
    (["available", "creating"], capture.PENDING),
    (["available", "error"], capture.FAILED),
    (["available", None], capture.FAILED),          # gone from Cinder
])
def test_snapshots_are_captured_only_when_every_one_is_available(statuses, state):
    listed = {f"s{n}": {"id": f"s{n}", "status": status}
              for n, status in enumerate(statuses) if status}
    assert volumes.snapshots_state(["s0", "s1"], listed)[0] == state


def test_orphans_are_only_our_marked_snapshots_of_this_server_whose_image_is_gone():
    alive = our_image("img-1", "2026-11-01T00:00:00Z", snapshots=["s-named"])
    snapshots = [
        {"id": "s-named", "status": "available", "metadata": volumes.our_marks("img-1", SERVER)},
        {"id": "s-orphan", "status": "available", "metadata": volumes.our_marks("img-gone", SERVER)},
        {"id": "s-error", "status": "error_deleting",
         "metadata": volumes.our_marks("img-gone", SERVER)},
        {"id": "s-deleting", "status": "deleting", "metadata": volumes.our_marks("img-gone", SERVER)},
        {"id": "s-other-server", "status": "available",
         "metadata": volumes.our_marks("img-gone", OTHER)},
        {"id": "s-unmarked", "status": "available", "name": "snapshot for web01-daily-x",
         "metadata": {}},
    ]
    found = [s["id"] for s in volumes.orphans(snapshots, [alive], SERVER)]
    assert found == ["s-orphan", "s-error"]


def test_the_quota_check_names_each_quota_that_the_backup_would_exceed():
    limits = {"maxTotalSnapshots": 10, "totalSnapshotsUsed": 9,
              "maxTotalVolumeGigabytes": 1000, "totalGigabytesUsed": 10}
    problems = volumes.quota_problems(limits, 2, 2)
    assert len(problems) == 1 and "maxTotalSnapshots" in problems[0] and "9 in use" in problems[0]
    assert volumes.quota_problems(limits, 1, 2) == []
    assert volumes.quota_problems(dict(limits, maxTotalSnapshots=-1), 50, 2) == []
    assert len(volumes.quota_problems(dict(limits, totalGigabytesUsed=999), 2, 2)) == 2


def test_a_quota_cinder_does_not_report_leaves_the_other_one_with_its_own_numbers():
    # no snapshot limit reported: the gigabytes row keeps the gigabytes' use, hold and need
    rows = volumes.quota_rows({"maxTotalVolumeGigabytes": 10, "totalGigabytesUsed": 9},
                              needs=(4, 3), held=(2, 1))
    assert rows == [("gigabytes", " GB", "maxTotalVolumeGigabytes", 10, 9, 1, 3)]
    assert volumes.over(rows[0])                  # 9 - 1 + 3 > 10


def test_rotation_finishes_a_half_done_deletion_and_does_not_count_it():
    images = [our_image("new", "2026-11-04T00:00:00Z", snapshots=["s4"]),
              our_image("b", "2026-11-03T00:00:00Z", snapshots=["s3"]),
              our_image("c", "2026-11-02T00:00:00Z", snapshots=["s2"],
                        **{volumes.DELETING_PROPERTY: "2026-11-03T00:00:00Z"}),
              our_image("d", "2026-11-01T00:00:00Z", snapshots=["s1"])]
    doomed = [i["id"] for i in rotation.select_for_rotation(images, SERVER, "daily", 2, "new")]
    assert doomed == ["c", "d"]      # c unfinished; d the surplus; b kept with the new one


def test_pinned_backups_leave_their_series_and_prune_never_touches_them():
    old = our_image("old", "2026-11-01T00:00:00Z", series="daily", image_type="backup",
                    backup_type="daily", nsh_method="createBackup")
    pinned = apply_patch(old, pinning.pin_patch(old))
    assert pinned["backup_type"] == pinning.PINNED and pinned["protected"] is True
    assert naming.is_ours(pinned, SERVER) and pinning.is_pinned(pinned)
    assert pinning.pin_refusals(pinned, SERVER)              # pinned already
    plans = retention.plan([pinned], SERVER, {}, keep=1)
    assert plans == []
    back = apply_patch(pinned, pinning.unpin_patch(pinned))
    assert back["backup_type"] == "daily" == back[naming.SERIES_PROPERTY]
    assert back["protected"] is False and pinning.FROM_PROPERTY not in back
    assert naming.is_ours(back, SERVER, "daily")
    assert naming.check_series("pinned")                   # reserved: an error text


def test_only_our_active_backups_can_be_pinned():
    theirs = our_image("x", "2026-11-01T00:00:00Z", nsh_server=OTHER, instance_uuid=OTHER)
    assert "not a backup made by" in pinning.pin_refusals(theirs, SERVER)[0]
    assert pinning.pin_refusals(our_image("y", "2026-11-01T00:00:00Z", status="queued"), SERVER)


def apply_patch(image, patch):
    """Glance's JSON patch, as far as pin and unpin use it."""
    image = dict(image)
    for op in patch:
        key = op["path"].lstrip("/")
        if op["op"] == "remove":
            del image[key]
        else:
            assert op["op"] == "add" or key in image, f"replace of a missing {key}"
            image[key] = op["value"]
    return image


# -- deleting -----------------------------------------------------------------------------------
def add_backup(cloud, created, snapshots=(), **extra):
    """One of our backups in the fake's Glance: the image as a listing shows it."""
    image_id = cloud.add_image(**our_image(str(uuid.uuid4()), created, snapshots=snapshots,
                                           **extra))
    return copy.deepcopy(cloud.images[image_id])


def add_snapshot(cloud, snapshot_id, volume_id, **fields):
    cloud.snapshots[snapshot_id] = {"id": snapshot_id, "volume_id": volume_id, "size": 1,
                                    "status": "available", "metadata": {}, **fields}
    return snapshot_id


def deletion_steps(cloud):
    return [call for call in cloud.calls
            if call[0] in ("patch_image", "delete_volume_snapshot", "delete_image")]


def test_a_backup_goes_mark_first_then_its_snapshots_then_the_image():
    cloud = FakeCloud()
    volume = cloud.add_volume()
    s1, s2 = (add_snapshot(cloud, sid(name), volume) for name in ("s1", "s2"))
    image = add_backup(cloud, "2026-11-01T00:00:00Z", snapshots=[s1, s2])
    marked = []          # the image's mark when Cinder deletes the first snapshot
    cloud.between["delete_volume_snapshot"] = lambda cloud: marked.append(
        cloud.images[image["id"]].get(volumes.DELETING_PROPERTY))
    delete.delete_backup(cloud, image, SERVER, [volume])
    assert deletion_steps(cloud) == [("patch_image", image["id"]),
                                     ("delete_volume_snapshot", s1),
                                     ("delete_volume_snapshot", s2),
                                     ("delete_image", image["id"])]
    assert marked[0] and cloud.images == {} and cloud.snapshots == {}


def test_a_failed_snapshot_delete_keeps_the_image_as_the_record():
    cloud = FakeCloud()
    volume = cloud.add_volume()
    s1, s2 = (add_snapshot(cloud, sid(name), volume) for name in ("s1", "s2"))
    image = add_backup(cloud, "2026-11-01T00:00:00Z", snapshots=[s1, s2])
    # s1 goes, then Cinder fails on s2
    cloud.between["delete_volume_snapshot"] = lambda cloud: cloud.faults.setdefault(
        "delete_volume_snapshot", []).append(CloudError(f"deleting volume snapshot {s2}: HTTP 500"))
    with pytest.raises(CloudError):
        delete.delete_backup(cloud, image, SERVER, [volume])
    assert cloud.called("delete_image") == []
    assert volumes.DELETING_PROPERTY in cloud.images[image["id"]]
    assert list(cloud.snapshots) == [s2]


def test_an_image_backed_backup_is_deleted_with_one_call():
    cloud = FakeCloud()
    image = add_backup(cloud, "2026-11-01T00:00:00Z")
    delete.delete_backup(cloud, image, SERVER, [])
    assert cloud.calls == [("get_image", image["id"]), ("delete_image", image["id"])]
    assert cloud.images == {}


# -- the Snapshotter on a volume-backed server ----------------------------------------------------
def volume_cloud():
    """SERVER boots from a volume and has a data volume: createImage makes an active image
    naming a new Cinder snapshot of each, `creating` at the first listing."""
    cloud = FakeCloud()
    cloud.add_server(id=SERVER, volume_backed=True, volumes=1)
    return cloud


def root_volume(cloud):
    return volumes.attached_volume_ids(cloud.servers[SERVER])[0]


def snapshot(cloud, timeout=60, **request):
    clock = FakeClock()
    return Snapshotter(cloud, SERVER, SnapshotRequest(**dict(dict(series="daily", rotation=2),
                                                             **request)),
                       clock() + timeout, "web01", clock=clock, sleep=clock.sleep).run()


def test_a_volume_backed_server_goes_straight_to_createimage_and_waits_for_its_snapshots():
    cloud = volume_cloud()
    result = snapshot(cloud)
    assert cloud.called("execute") == ["createImage"] and result.method == "createImage"
    assert result.state == "active"
    made = volumes.snapshot_ids(cloud.images[result.image_id])
    assert sorted(cloud.snapshots[s]["volume_id"] for s in made) == \
        sorted(volumes.attached_volume_ids(cloud.servers[SERVER]))
    # Cinder said `creating` at the first look: the marks wait for the second
    looks = [name for name, _ in cloud.calls if name in ("volume_snapshots",
                                                         "mark_volume_snapshot")]
    assert looks[:4] == ["volume_snapshots", "volume_snapshots", "mark_volume_snapshot",
                         "mark_volume_snapshot"]
    assert sorted(cloud.called("mark_volume_snapshot")) == sorted(made)
    for snapshot_id in made:
        assert cloud.snapshots[snapshot_id]["metadata"] == volumes.our_marks(result.image_id,
                                                                             SERVER)


def test_a_snapshot_in_error_fails_the_backup_and_nothing_of_it_stays():
    cloud = volume_cloud()
    cloud.snapshot_statuses = ["creating", "error"]
    with pytest.raises(CloudError, match="volume snapshot .* 'error'.*deleted with its 2"):
        snapshot(cloud)
    assert len(cloud.called("delete_volume_snapshot")) == 2 and cloud.snapshots == {}
    assert cloud.calls[-1][0] == "delete_image" and cloud.images == {}


def test_an_exhausted_snapshot_quota_sends_no_request(warnings):
    cloud = volume_cloud()
    cloud.limits.update(maxTotalSnapshots=10, totalSnapshotsUsed=9)
    with pytest.raises(CloudError, match=r"no backup requested: .*maxTotalSnapshots.*9 in use"):
        snapshot(cloud)
    assert cloud.called("execute") == []


def test_an_unreadable_cinder_list_still_makes_the_backup_with_one_warning(warnings):
    cloud = volume_cloud()
    # the capture's look fails; Cinder answers again by the rotation's orphan sweep
    cloud.faults["volume_snapshots"] = [CloudError("listing the volume snapshots: HTTP 500")]
    result = snapshot(cloud)
    assert list(cloud.images) == [result.image_id] and result.state == "active"
    assert len(warnings) == 1 and "could not be read" in warnings[0]


def test_rotation_deletes_the_surplus_with_its_snapshots_and_sweeps_orphans():
    cloud = volume_cloud()
    root = root_volume(cloud)
    b = add_backup(cloud, "2026-11-03T00:00:00Z", snapshots=[sid("b-s0")])["id"]
    a = add_backup(cloud, "2026-11-02T00:00:00Z", snapshots=[sid("a-s0")])["id"]
    add_snapshot(cloud, sid("lost"), root, metadata=volumes.our_marks(str(uuid.uuid4()), SERVER))
    add_snapshot(cloud, sid("theirs"), root, name="snapshot for web01-daily-zzz")
    add_snapshot(cloud, sid("a-s0"), root)
    add_snapshot(cloud, sid("b-s0"), root)
    result = snapshot(cloud, rotation=2)
    assert result.rotated == [a]
    assert cloud.called("delete_volume_snapshot") == [sid("a-s0"), sid("lost")]
    assert cloud.called("delete_image") == [a] and sorted(cloud.images) == sorted(
        [b, result.image_id])
    assert sid("theirs") in cloud.snapshots and sid("b-s0") in cloud.snapshots


def test_a_failed_snapshot_delete_in_rotation_is_one_warning_and_the_image_stays(warnings):
    cloud = volume_cloud()
    add_backup(cloud, "2026-11-03T00:00:00Z", snapshots=[sid("b-s0")])
    a = add_backup(cloud, "2026-11-02T00:00:00Z", snapshots=[sid("a-s0")])["id"]
    add_snapshot(cloud, sid("a-s0"), root_volume(cloud))
    cloud.faults["delete_volume_snapshot"] = [
        CloudError(f"deleting volume snapshot {sid('a-s0')}: HTTP 500")]
    result = snapshot(cloud, rotation=2)
    assert result.image_id in cloud.images and result.rotated == []
    assert cloud.called("delete_image") == [] and a in cloud.images
    assert volumes.DELETING_PROPERTY in cloud.images[a] and sid("a-s0") in cloud.snapshots
    assert len(warnings) == 1 and "next run rotates them" in warnings[0]


# -- what people see ---------------------------------------------------------------------------
def test_list_shows_each_snapshot_state_the_marks_and_what_is_kept():
    s1, s2 = sid("s1"), sid("s2")
    images = [our_image("img-2", "2026-11-02T00:00:00Z", snapshots=[s2]),
              our_image("img-1", "2026-11-01T00:00:00Z", snapshots=[s1],
                        **{volumes.DELETING_PROPERTY: "2026-11-02T00:00:00Z"})]
    pinned = our_image("img-0", "2026-10-01T00:00:00Z", size=2 ** 20)
    images.append(apply_patch(pinned, pinning.pin_patch(pinned)))
    snapshots = {s2: {"id": s2, "status": "available", "size": 1, "volume_id": "vol-0"}}
    text = "\n".join(views.list_lines(images, SERVER, snapshots))
    assert f"volume snapshot {s2} available, 1 GB, of volume vol-0" in text
    assert f"volume snapshot {s1} (not found in Cinder)" in text
    assert "Kept in series daily: 1 image(s), 0 B + 1 GB volume snapshots." in text
    assert "Kept in series pinned: 1 image(s), 1.0 MiB." in text
    assert "Kept in all: 2 image(s), 1.0 MiB + 1 GB volume snapshots." in text
    assert "K: pinned" in text and "D: being deleted" in text
    unknown = "\n".join(views.list_lines(images, SERVER, None))
    assert f"{s2} (state unknown: Cinder could not be read)" in unknown


def test_most_kept_counts_each_series_plus_one_new_backup_at_a_time():
    settings = types.SimpleNamespace(apt_enabled=True, apt_series="apt", apt_rotation=3,
                                     daily=7, weekly=0, monthly=2, yearly=0)
    assert retention.most_kept(settings) == (3 + 7 + 2 + 1, "apt 3 + daily 7 + monthly 2, and 1 "
                                             "while a new one is made", {"apt", "daily", "monthly"})
    defaults = types.SimpleNamespace(apt_enabled=True, apt_series="apt", apt_rotation=5,
                                     daily=7, weekly=4, monthly=12, yearly=2)
    assert retention.most_kept(defaults)[0] == 30 + 1


def test_prune_shows_a_half_done_deletion_even_in_a_series_without_a_count():
    half = our_image("h", "2026-11-01T00:00:00Z", series="manual", snapshots=["s1"],
                     **{volumes.DELETING_PROPERTY: "2026-11-02T00:00:00Z"})
    plans = retention.plan([half], SERVER, {})
    assert [i["id"] for i in retention.to_delete(plans)] == ["h"]
    assert any("delete" in line and "(h)" in line for line in views.prune_lines(plans))


def test_check_says_what_the_rotations_cost_at_most_from_the_newest_backups_size():
    from nova_snapshot_hook.commands.check import _storage
    defaults = types.SimpleNamespace(apt_enabled=True, apt_series="apt", apt_rotation=5,
                                     daily=7, weekly=4, monthly=12, yearly=2)
    kept = retention.most_kept(defaults)
    older = our_image("old", "2026-11-01T00:00:00Z", size=1 * 2 ** 30)
    newest = our_image("new", "2026-11-02T00:00:00Z", size=2 * 2 ** 30)
    state, text, _ = _storage((SERVER, "settings"), [older, newest], kept)
    assert state == "OK" and "at most 31 backups (apt 5 + daily 7 + weekly 4 + monthly 12 + " \
        "yearly 2, and 1 while a new one is made)" in text
    assert "up to 62.0 GiB at the newest backup's size (2.0 GiB" in text
    assert "no backup of ours" in _storage((SERVER, "settings"), [], kept)[1]
