from nova_snapshot_hook.rules import capture


def test_glance_saving_or_active_means_captured():
    assert capture.capture_state("saving", "image_uploading")[0] == capture.CAPTURED
    assert capture.capture_state("active", None)[0] == capture.CAPTURED


def test_queued_image_with_a_task_running_is_pending():
    assert capture.capture_state("queued", "image_pending_upload")[0] == capture.PENDING


def test_task_state_none_needs_the_instance_action_before_it_counts():
    assert capture.capture_state("queued", None, None)[0] == capture.PENDING
    assert capture.capture_state("queued", None, False)[0] == capture.CAPTURED
    assert capture.capture_state("queued", None, True)[0] == capture.FAILED


def test_a_deleted_or_killed_image_is_a_failure_even_when_task_state_looks_done():
    assert capture.capture_state(None, None, False)[0] == capture.FAILED
    assert capture.capture_state("killed", None, False)[0] == capture.FAILED
    assert capture.capture_state("deleted", "image_uploading")[0] == capture.FAILED


def test_volume_backed_refusal_is_recognised_only_on_400():
    message = "Backup is not supported for volume-backed instances."
    assert capture.is_volume_backed_refusal(400, message)
    assert not capture.is_volume_backed_refusal(409, message)
    assert not capture.is_volume_backed_refusal(400, "Invalid input for field/attribute rotation.")


def test_task_state_conflict_is_recognised():
    message = "Cannot 'createBackup' instance x while it is in task_state image_backup"
    assert capture.is_task_state_conflict(409, message)
    assert not capture.is_task_state_conflict(409, "Quota exceeded")
    assert not capture.is_task_state_conflict(400, message)
