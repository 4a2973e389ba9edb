"""When is a backup's disk captured? Pure decisions over what Nova and Glance report.

See doc/nova-backup-api.md: Glance status `saving` or `active` means captured;
task_state back to None counts only while the image still exists, is not killed, and the
request's instance action reports no error (Nova resets task_state on failure too).
"""

CAPTURED = "captured"
PENDING = "pending"
FAILED = "failed"

_CAPTURED_STATUSES = ("saving", "active")
_DEAD_STATUSES = ("killed", "deleted", "pending_delete")


def capture_state(image_status, task_state, action_failed=None):
    """(state, reason). image_status None means Glance no longer has the image.

    action_failed: None when unknown (not asked yet), else whether the instance action says Error.
    """
    if image_status is None:
        return FAILED, "Nova deleted the new image: the snapshot failed on the compute host"
    if image_status in _DEAD_STATUSES:
        return FAILED, f"the new image went to status '{image_status}'"
    if image_status in _CAPTURED_STATUSES:
        return CAPTURED, f"image status {image_status}"
    if task_state is not None:
        return PENDING, f"task_state {task_state}"
    if action_failed is None:
        return PENDING, "task_state is back to None; checking the instance action"
    if action_failed:
        return FAILED, "the instance action reports an error"
    return CAPTURED, "task_state back to None, image alive, no error in the instance action"


def is_active(image_status):
    return image_status == "active"


def is_volume_backed_refusal(status_code, message):
    """Nova answers createBackup on a boot-from-volume server with 400 and this text."""
    return status_code == 400 and "volume-backed" in (message or "").lower()


def is_task_state_conflict(status_code, message):
    """409 'Cannot ... while it is in task_state ...': another snapshot is running; wait it out."""
    return status_code == 409 and "task_state" in (message or "")
