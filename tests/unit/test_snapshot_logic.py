"""The snapshot flow against the in-memory cloud (tests/fake_cloud.py; no HTTP)."""

import pytest

from nova_snapshot_hook.errors import ActionRefused, CaptureTimeout, CloudError
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, Snapshotter
from nova_snapshot_hook.rules import naming

from fake_clock import FakeClock
from fake_cloud import TASK_STATE, FakeCloud

SERVER = "11111111-2222-3333-4444-555555555555"
BUSY = (409, "Cannot 'createBackup' instance x while it is in task_state image_backup")
VOLUME_BACKED = (400, "Backup is not supported for volume-backed instances")


def scene(*capture):
    """A cloud with our image-backed server; `capture`: the statuses its next image shows when
    made and at each read after (FakeCloud.capture)."""
    cloud = FakeCloud()
    cloud.add_server(id=SERVER)
    if capture:
        cloud.capture = list(capture)
    return cloud


def run(cloud, timeout=60, **request):
    clock = FakeClock()
    snap = Snapshotter(cloud, SERVER, SnapshotRequest(**request), clock() + timeout, "web01",
                       clock=clock, sleep=clock.sleep)
    return snap.run()


def task_ends_while_queued(cloud, failed=False):
    """Right after the request, Nova shows no task while Glance still says queued; `failed`:
    the request's instance action reports an error."""
    def meanwhile(cloud):
        cloud.script_server(SERVER, {TASK_STATE: None})
        if failed:
            cloud.fail_action()
    cloud.between["execute"] = meanwhile


def our_image(cloud, **fields):
    """An earlier createImage backup of ours, series manual (active unless `status` says)."""
    return cloud.add_image(instance_uuid=SERVER, image_type="snapshot", nsh_server=SERVER,
                           nsh_series="manual", nsh_method="createImage", **fields)


def test_backup_is_captured_when_glance_says_saving():
    cloud = scene("queued", "queued", "saving", "active")
    older = [cloud.add_image(instance_uuid=SERVER, image_type="backup", backup_type="daily")
             for _ in range(3)]
    result = run(cloud, series="daily", rotation=3)
    image = cloud.images[result.image_id]
    assert result.state == "captured" and image["status"] == "saving"
    assert image["backup_type"] == "daily" and image["nsh_server"] == SERVER
    assert cloud.calls[:2] == [("get_server", SERVER), ("execute", "createBackup")]
    cloud.get_image(result.image_id)    # now active: Nova keeps the `rotation` we sent
    assert set(cloud.images) == {*older[1:], result.image_id}


def test_wait_active_goes_on_past_saving():
    cloud = scene("queued", "saving", "saving", "active")
    assert run(cloud, wait="active").state == "active"


def test_no_wait_returns_right_after_the_request():
    cloud = scene()
    assert run(cloud, wait="none").state == "requested"
    assert cloud.called("get_image") == []


def test_409_for_a_running_task_is_waited_out():
    cloud = scene()
    cloud.refusals = [BUSY, BUSY]
    assert run(cloud).state == "captured"
    assert cloud.called("execute") == ["createBackup"] * 3


def test_409_until_the_deadline_fails_with_one_message():
    cloud = scene()
    cloud.refusals = [BUSY] * 1000
    with pytest.raises(CloudError, match="still busy"):
        run(cloud, timeout=5)


def test_no_request_is_sent_at_the_deadline():
    clock = FakeClock()
    cloud = FakeCloud(clock)
    cloud.add_server(id=SERVER)
    cloud.refusals = [BUSY] * 1000
    snap = Snapshotter(cloud, SERVER, SnapshotRequest(), 5.0, "web01", clock=clock,
                       sleep=clock.sleep)
    with pytest.raises(CloudError, match="still busy at the deadline"):
        snap.run()
    asked = cloud.called_at("execute")
    assert asked[:3] == [0, 0.25, 0.625] and max(asked) < 5.0 and clock() == 5.0


def test_volume_backed_server_falls_back_to_create_image():
    cloud = scene()
    cloud.refusals = [VOLUME_BACKED]
    result = run(cloud)
    assert result.method == "createImage"
    assert cloud.called("execute") == ["createBackup", "createImage"]


def test_forced_backup_method_does_not_fall_back():
    cloud = scene()
    cloud.refusals = [VOLUME_BACKED]
    with pytest.raises(ActionRefused):
        run(cloud, method="backup")
    assert cloud.called("execute") == ["createBackup"]


def test_task_state_none_with_an_alive_image_counts_after_the_action_check():
    cloud = scene("queued")
    task_ends_while_queued(cloud)
    assert run(cloud).state == "captured"
    assert cloud.called("action_failed")


def test_failure_in_the_instance_action_deletes_our_new_image():
    cloud = scene("queued")
    task_ends_while_queued(cloud, failed=True)
    with pytest.raises(CloudError, match="failed"):
        run(cloud)
    assert cloud.called("delete_image") == cloud.called("get_image")[:1] and cloud.images == {}


def test_a_killed_image_is_deleted_and_the_one_error_says_so(warnings):
    cloud = scene("queued", "killed")
    with pytest.raises(CloudError, match="status 'killed'; it was deleted; older backups"):
        run(cloud)
    assert cloud.called("delete_image") == cloud.called("get_image")[:1] and cloud.images == {}
    assert warnings == []


def test_a_failed_delete_of_the_killed_image_is_in_the_same_error():
    cloud = scene("queued", "killed")
    cloud.faults["delete_image"] = [CloudError("HTTP 503")]
    with pytest.raises(CloudError, match="deleting it failed too: HTTP 503"):
        run(cloud)


def test_image_that_vanished_is_a_failure_not_a_success():
    cloud = scene("queued")
    cloud.between["get_image"] = lambda cloud: cloud.images.clear()
    with pytest.raises(CloudError, match="deleted the new image"):
        run(cloud)


def test_timeout_marks_the_image_as_not_guaranteed():
    cloud = scene("queued")
    with pytest.raises(CaptureTimeout):
        run(cloud, timeout=3)
    (image,) = cloud.images.values()
    assert cloud.called("patch_image") == [image["id"]]
    assert image["nsh_capture"] == "not-guaranteed"


def test_create_image_path_rotates_only_our_active_images():
    cloud = scene()
    unfinished = our_image(cloud, status="saving")
    older, old = our_image(cloud), our_image(cloud)
    # newer, someone's snapshot after a restore: our properties inherited, nsh_name not its name
    alien = our_image(cloud, name="someone-else", nsh_name="web01-manual-old")
    result = run(cloud, method="image", rotation=2, wait="active")
    assert result.rotated == [older] and cloud.called("delete_image") == [older]
    assert set(cloud.images) == {alien, unfinished, old, result.image_id}


def test_a_failed_rotation_keeps_the_backup_and_the_older_images(warnings):
    cloud = scene()
    older = our_image(cloud)
    cloud.faults["list_images"] = [CloudError("the cloud failed: HTTP 500")]
    result = run(cloud, method="image", rotation=1, wait="active")
    assert result.state == "active" and set(cloud.images) == {older, result.image_id}
    assert result.rotated == [] and cloud.called("delete_image") == []
    assert len(warnings) == 1 and "rotating the series manual failed" in warnings[0]
    assert "HTTP 500" in warnings[0]


@pytest.mark.parametrize("every,reads", [(1.0, 10), (5.0, 2)])
def test_task_state_is_read_at_most_every_task_state_every(every, reads):
    cloud = scene(*["queued"] * 11, "saving")
    result = run(cloud, poll_interval=1.0, capture_step=1.0, task_state_every=every)
    assert result.state == "captured"
    # The first get_server is the check that the server is idle, before the request.
    assert len(cloud.called("get_server")) - 1 == reads


def test_busy_server_is_waited_for_before_the_request():
    cloud = scene()
    cloud.script_server(SERVER, {TASK_STATE: "image_uploading"}, {}, {TASK_STATE: None})
    run(cloud)
    assert cloud.calls[:4] == [("get_server", SERVER)] * 3 + [("execute", "createBackup")]


def test_properties_inherited_from_the_restored_backup_are_removed_from_the_new_one():
    def inherit(cloud):     # Nova copies the server's image properties onto the new image
        (image,) = cloud.images.values()
        image.update(nsh_change_01="install old 1", nsh_capture="not-guaranteed",
                     nsh_series="manual")

    cloud = scene()
    cloud.between["execute"] = inherit
    run(cloud)
    (image,) = cloud.images.values()
    assert cloud.called("patch_image") == [image["id"]]
    sent = naming.own_properties(SERVER, "manual", "web01", "manual", "createBackup", "x", now=0)
    assert {key for key in image if key.startswith(naming.PREFIX)} == set(sent)
    assert image["nsh_name"] == image["name"]


def test_three_backups_in_one_second_rotate_the_first_made():
    clock, wall = FakeClock(), FakeClock(1796663138.1)     # 2026-12-07T17:05:38.1Z
    cloud = FakeCloud(clock=wall)       # created_at has whole seconds: all three in one
    cloud.add_server(id=SERVER)
    made = []
    for n in range(3):
        result = Snapshotter(cloud, SERVER, SnapshotRequest(series="daily", rotation=2,
                                                            method="image", wait="active"),
                             clock() + 60, "web01", clock=clock, sleep=clock.sleep,
                             wall_clock=wall).run()
        made.append(result.image_id)
        assert cloud.images[result.image_id]["nsh_requested"] == \
            f"2026-12-07T17:05:38.{100000 + 300000 * n}Z"
        wall.sleep(0.3)
    assert {image["created_at"] for image in cloud.images.values()} == {"2026-12-07T17:05:38Z"}
    assert result.rotated == made[:1] and set(cloud.images) == set(made[1:])
    assert cloud.called("patch_image") == []        # nothing inherited to remove


def test_a_dry_run_shows_the_request_stamp():
    from nova_snapshot_hook.backup.snapshotter import planned_call
    metadata = planned_call(SERVER, "web01", SnapshotRequest()).body["createBackup"]["metadata"]
    assert metadata["nsh_requested"].endswith("Z") and len(metadata["nsh_requested"]) == 27
