"""Take one backup now, for every caller (the snapshot command, the apt hook, the schedule).

credentials -> which server -> host lock -> the cloud -> Snapshotter, within the deadline the
caller set with ctx.bounded(). Every attempt's outcome is recorded for `status` (attempts.py).
"""

import os

from ..errors import HookError
from ..files import FileLock, LockBusy
from ..log import log


def take_backup(ctx, request):
    """One backup of this server before ctx.deadline; returns a snapshotter.SnapshotResult."""
    server_id = None
    try:
        ctx.credentials         # a missing or bad credentials file is said before anything else
        server_id, source = ctx.server
        log.info(f"Start OpenStack snapshot creation: server {server_id} (from {source}), "
                 f"series {request.series}, rotation {request.rotation}.")
        from .snapshotter import Snapshotter
        with host_lock(ctx.settings.lock_path, ctx.deadline):
            result = Snapshotter(ctx.cloud, server_id, request, ctx.deadline,
                                 os.uname().nodename).run()
    except BaseException as err:
        _record_attempt(request, server_id, error=err)
        raise
    _record_attempt(request, server_id, image_id=result.image_id)
    return result


def host_lock(path, deadline):
    """One snapshot at a time per host: the lock dies with its process (kill -9 included)."""
    try:
        return FileLock(path, note_pid=True).acquire(deadline)
    except LockBusy as busy:
        holder = f" (pid {busy.pid})" if busy.pid else ""
        raise HookError(f"another nova-snapshot-hook run{holder} holds {path}",
                        fix="wait for it to finish, or raise [snapshot] timeout") from None


def _record_attempt(request, server_id, image_id=None, error=None):
    """Note the outcome for `status`; never raises, never changes the backup's own result."""
    try:
        from .attempts import outcome_of, record_attempt
        failure = outcome_of(error) if error is not None else None
        if error is None or failure is not None:
            record_attempt(request.series, request.trigger, server_id, image_id, failure)
    except Exception as err:
        log.debug(f"could not record the attempt for status: {err}")
