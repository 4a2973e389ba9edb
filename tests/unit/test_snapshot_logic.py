"""The snapshot flow against a scripted stand-in for cloud.Cloud (no HTTP)."""

import pytest

from nova_snapshot_hook.errors import ActionRefused, CaptureTimeout, CloudError
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, Snapshotter

from fake_clock import FakeClock

SERVER = "11111111-2222-3333-4444-555555555555"


class ScriptedCloud:
    """Answers from scripts: lists of task states and image statuses, popped per call."""

    def __init__(self, task_states=(None,), statuses=("active",), refusals=(), action_error=False,
                 images=()):
        self.task_states, self.statuses = list(task_states), list(statuses)
        self.refusals, self.action_error, self.images = list(refusals), action_error, list(images)
        self.calls, self.deleted, self.patched = [], [], []

    def _next(self, script):
        return script.pop(0) if len(script) > 1 else script[0]

    def get_server(self, server_id):
        self.calls.append("get_server")
        return {"id": server_id, "OS-EXT-STS:task_state": self._next(self.task_states)}

    def server_action(self, server_id, action, body):
        self.calls.append(action)
        self.last_body = body
        if self.refusals:
            status, detail = self.refusals.pop(0)
            raise ActionRefused(f"HTTP {status}", status=status, detail=detail)
        return {"image_id": "new"}, "req-1"

    def get_image(self, image_id):
        self.calls.append("get_image")
        listed = next((image for image in self.images if image["id"] == image_id), None)
        if listed and image_id != "new":        # read again before it is deleted
            return dict(listed)
        status = self._next(self.statuses)
        return None if status is None else {"id": image_id, "status": status}

    def action_failed(self, server_id, request_id):
        self.calls.append("action")
        return self.action_error

    def delete_image(self, image_id):
        self.deleted.append(image_id)

    def set_image_properties(self, image_id, properties):
        self.patched.append((image_id, properties))

    def list_images(self, **filters):
        return self.images


def run(cloud, timeout=60, **request):
    clock = FakeClock()
    snap = Snapshotter(cloud, SERVER, SnapshotRequest(**request), clock() + timeout, "web01",
                       clock=clock, sleep=clock.sleep)
    return snap.run()


def test_backup_is_captured_when_glance_says_saving():
    cloud = ScriptedCloud(statuses=["queued", "saving"], task_states=[None, "image_pending_upload"])
    result = run(cloud, series="daily", rotation=3)
    assert result.state == "captured" and result.image_id == "new"
    assert cloud.last_body["backup_type"] == "daily" and cloud.last_body["rotation"] == 3
    assert cloud.last_body["metadata"]["nsh_server"] == SERVER
    assert cloud.calls[:2] == ["get_server", "createBackup"]


def test_wait_active_goes_on_past_saving():
    cloud = ScriptedCloud(statuses=["saving", "saving", "active"])
    assert run(cloud, wait="active").state == "active"


def test_no_wait_returns_right_after_the_request():
    cloud = ScriptedCloud()
    assert run(cloud, wait="none").state == "requested"
    assert "get_image" not in cloud.calls


def test_409_for_a_running_task_is_waited_out():
    busy = (409, "Cannot 'createBackup' instance x while it is in task_state image_backup")
    cloud = ScriptedCloud(refusals=[busy, busy])
    assert run(cloud).state == "active"
    assert cloud.calls.count("createBackup") == 3


def test_409_until_the_deadline_fails_with_one_message():
    busy = (409, "Cannot 'createBackup' instance x while it is in task_state image_backup")
    cloud = ScriptedCloud(refusals=[busy] * 1000)
    with pytest.raises(CloudError, match="still busy"):
        run(cloud, timeout=5)


def test_no_request_is_sent_at_the_deadline():
    clock = FakeClock()

    class Busy(ScriptedCloud):
        def server_action(self, server_id, action, body):
            self.calls.append(clock())
            raise ActionRefused("HTTP 409", status=409, detail="while it is in task_state x")

    cloud = Busy()
    snap = Snapshotter(cloud, SERVER, SnapshotRequest(), 5.0, "web01", clock=clock,
                       sleep=clock.sleep)
    with pytest.raises(CloudError, match="still busy at the deadline"):
        snap.run()
    asked = [call for call in cloud.calls if isinstance(call, float)]
    assert asked[:3] == [0, 0.25, 0.625] and max(asked) < 5.0 and clock() == 5.0


def test_volume_backed_server_falls_back_to_create_image():
    cloud = ScriptedCloud(refusals=[(400, "Backup is not supported for volume-backed instances")])
    result = run(cloud)
    assert result.method == "createImage" and cloud.calls.count("createImage") == 1


def test_forced_backup_method_does_not_fall_back():
    cloud = ScriptedCloud(refusals=[(400, "Backup is not supported for volume-backed instances")])
    with pytest.raises(ActionRefused):
        run(cloud, method="backup")


def test_task_state_none_with_an_alive_image_counts_after_the_action_check():
    cloud = ScriptedCloud(statuses=["queued"], task_states=[None])
    assert run(cloud).state == "captured"
    assert "action" in cloud.calls


def test_failure_in_the_instance_action_deletes_our_new_image():
    cloud = ScriptedCloud(statuses=["queued"], task_states=[None], action_error=True)
    with pytest.raises(CloudError, match="failed"):
        run(cloud)
    assert cloud.deleted == ["new"]


def test_a_killed_image_is_deleted_and_the_one_error_says_so(warnings):
    cloud = ScriptedCloud(statuses=["killed"])
    with pytest.raises(CloudError, match="status 'killed'; it was deleted; older backups"):
        run(cloud)
    assert cloud.deleted == ["new"]
    assert warnings == []


def test_a_failed_delete_of_the_killed_image_is_in_the_same_error():
    class DeleteFails(ScriptedCloud):
        def delete_image(self, image_id):
            raise CloudError("HTTP 503")

    with pytest.raises(CloudError, match="deleting it failed too: HTTP 503"):
        run(DeleteFails(statuses=["killed"]))


def test_image_that_vanished_is_a_failure_not_a_success():
    cloud = ScriptedCloud(statuses=["queued", None], task_states=[None, "image_backup"])
    with pytest.raises(CloudError, match="deleted the new image"):
        run(cloud)


def test_timeout_marks_the_image_as_not_guaranteed():
    cloud = ScriptedCloud(statuses=["queued"], task_states=[None, "image_pending_upload"])
    with pytest.raises(CaptureTimeout):
        run(cloud, timeout=3)
    assert cloud.patched == [("new", {"nsh_capture": "not-guaranteed"})]


def test_create_image_path_rotates_only_our_active_images():
    images = [dict(id="new", status="active", created_at="3", nsh_server=SERVER, nsh_series="manual"),
              dict(id="old", status="active", created_at="2", nsh_server=SERVER, nsh_series="manual"),
              dict(id="older", status="active", created_at="1", nsh_server=SERVER, nsh_series="manual"),
              dict(id="alien", status="active", created_at="0")]
    cloud = ScriptedCloud(images=images)
    result = run(cloud, method="image", rotation=2, wait="active")
    assert result.rotated == ["older"] and cloud.deleted == ["older"]


def test_a_failed_rotation_keeps_the_backup_and_the_older_images(warnings):
    class RotationFails(ScriptedCloud):
        def list_images(self, **filters):
            raise CloudError("the cloud failed: HTTP 500")

    cloud = RotationFails()
    result = run(cloud, method="image", rotation=1, wait="active")
    assert result.image_id == "new" and result.state == "active"
    assert result.rotated == [] and cloud.deleted == []
    assert len(warnings) == 1 and "rotating the series manual failed" in warnings[0]
    assert "HTTP 500" in warnings[0]


@pytest.mark.parametrize("every,reads", [(1.0, 10), (5.0, 2)])
def test_task_state_is_read_at_most_every_task_state_every(every, reads):
    cloud = ScriptedCloud(statuses=["queued"] * 10 + ["saving"],
                          task_states=[None] + ["image_pending_upload"] * 20)
    result = run(cloud, poll_interval=1.0, capture_step=1.0, task_state_every=every)
    assert result.state == "captured"
    # The first get_server is the check that the server is idle, before the request.
    assert cloud.calls.count("get_server") - 1 == reads


def test_busy_server_is_waited_for_before_the_request():
    cloud = ScriptedCloud(task_states=["image_uploading", "image_uploading", None])
    run(cloud)
    assert cloud.calls[:4] == ["get_server", "get_server", "get_server", "createBackup"]


def test_properties_inherited_from_the_restored_backup_are_removed_from_the_new_one():
    class Inheriting(ScriptedCloud):
        def get_image(self, image_id):
            image = super().get_image(image_id)
            image.update(nsh_change_01="install old 1", nsh_capture="not-guaranteed",
                         nsh_series="manual")
            return image

        def remove_image_properties(self, image_id, keys):
            self.removed = (image_id, keys)

    cloud = Inheriting(statuses=["saving"])
    run(cloud)
    assert cloud.removed == ("new", ["nsh_capture", "nsh_change_01"])
    assert cloud.last_body["metadata"]["nsh_name"] == cloud.last_body["name"]


class OneSecondCloud(ScriptedCloud):
    """Glance in memory, every image made in the same second (created_at has whole seconds)."""

    def __init__(self):
        super().__init__()
        self.store = {}

    def get_server(self, server_id):
        return {"id": server_id, "image": {"id": "base"}, "OS-EXT-STS:task_state": None}

    def server_action(self, server_id, action, body):
        self.last_body = body
        image_id = f"img{len(self.store) + 1}"
        self.store[image_id] = dict(body["metadata"], id=image_id, name=body["name"],
                                    status="active", created_at="2026-12-07T17:05:38Z",
                                    image_type="snapshot", instance_uuid=server_id)
        return {"image_id": image_id}, "req-1"

    def get_image(self, image_id):
        return dict(self.store[image_id]) if image_id in self.store else None

    def list_images(self, **filters):
        return [dict(image) for image in self.store.values()
                if all(image.get(key) == value for key, value in filters.items())]

    def delete_image(self, image_id):
        self.deleted.append(image_id)
        del self.store[image_id]

    def remove_image_properties(self, image_id, keys):
        raise AssertionError(f"nothing inherited to remove: {keys}")


def test_three_backups_in_one_second_rotate_the_first_made():
    cloud, clock = OneSecondCloud(), FakeClock()
    wall = FakeClock(1796663138.1)                 # 2026-12-07T17:05:38.1Z
    for made in range(3):
        result = Snapshotter(cloud, SERVER, SnapshotRequest(series="daily", rotation=2,
                                                            method="image", wait="active"),
                             clock() + 60, "web01", clock=clock, sleep=clock.sleep,
                             wall_clock=wall).run()
        assert cloud.last_body["metadata"]["nsh_requested"] == \
            f"2026-12-07T17:05:38.{100000 + 300000 * made}Z"
        wall.sleep(0.3)
    assert result.rotated == ["img1"] and sorted(cloud.store) == ["img2", "img3"]


def test_a_dry_run_shows_the_request_stamp():
    from nova_snapshot_hook.backup.snapshotter import planned_call
    metadata = planned_call(SERVER, "web01", SnapshotRequest()).body["createBackup"]["metadata"]
    assert metadata["nsh_requested"].endswith("Z") and len(metadata["nsh_requested"]) == 27
