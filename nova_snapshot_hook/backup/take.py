"""Take one backup now, for every caller (the snapshot command, the apt hook, the schedule).

credentials -> which server -> host lock -> the user's pre hooks -> sync -> the cloud ->
Snapshotter -> post hooks once captured (failed hooks when anything ends it first), within the
deadline the caller set with ctx.bounded(). Every attempt's outcome is recorded for `status`
(attempts.py).
"""

import contextlib
import dataclasses
import os
import signal
import threading
import time

from .. import guest_agent, paths
from ..errors import HookError
from ..files import FileLock, LockBusy
from ..log import log
from ..rules import naming, quiesce


def take_backup(ctx, request):
    """One backup of this server before ctx.deadline; returns a snapshotter.SnapshotResult."""
    server_id = None
    try:
        ctx.credentials         # a missing or bad credentials file is said before anything else
        server_id, source = ctx.server
        log.info(f"Start OpenStack snapshot creation: server {server_id} (from {source}), "
                 f"series {request.series}, rotation {request.rotation}.")
        request = prepared(ctx.settings, request)
        hooks = user_hooks(ctx.settings, request, server_id)
        with host_lock(paths.lock(ctx.settings.lock_path), ctx.deadline), interruptible(hooks):
            result = _hooked_backup(ctx, request, server_id, hooks)
    except BaseException as err:
        _record_attempt(request, server_id, error=err)
        try:
            err.recorded = True         # the apt hook records the failures it sees elsewhere
        except AttributeError:
            pass
        raise
    _record_attempt(request, server_id, image_id=result.image_id)
    return result


def _hooked_backup(ctx, request, server_id, hooks):
    """pre, the backup, then post once captured, or failed. The failed hooks run still inside
    interruptible(): a second SIGHUP of a dropped session must not kill the run before them."""
    from .snapshotter import Snapshotter
    snapshotter = None
    try:
        hooks.start(time_left=lambda: ctx.deadline - time.monotonic())
        flush_disks()
        snapshotter = Snapshotter(ctx.cloud, server_id, request, ctx.deadline,
                                  os.uname().nodename,
                                  on_captured=lambda image_id: hooks.finish("post", image_id))
        result = snapshotter.run()
        hooks.finish("post", result.image_id)     # --no-wait: once Nova took the request
    except BaseException:
        hooks.finish("failed", getattr(snapshotter, "image_id", None))
        raise
    return result


def prepared(settings, request):
    """The request with its name fixed now (the hooks are told it) and what quiesce to expect."""
    root = settings.identity_root
    port = guest_agent.agent_port(root)      # without the port, no /proc scan for the agent
    expect = quiesce.expected(port, port and guest_agent.agent_running(root))
    return dataclasses.replace(
        request, name=request.name or naming.image_name(os.uname().nodename, request.series,
                                                        time.time()),
        properties={**request.properties, quiesce.PROPERTY: expect})


def user_hooks(settings, request, server_id):
    from .hooks import Hooks
    return Hooks(settings.hooks_directory, settings.hooks_timeout, paths.run_dir(), dict(
        trigger=request.trigger, series=request.series, server_id=server_id,
        image_name=request.name, changes=request.properties.get(naming.PREFIX + "changes")),
        pre_failure=settings.hooks_pre_failure)


def flush_disks():
    """What the VM wrote so far reaches its disk before Nova reads it (the page cache is not in
    the image); costs a few milliseconds when little is dirty (doc/performance.md)."""
    started = time.monotonic()
    os.sync()
    log.debug(f"sync took {time.monotonic() - started:.3f} s")


@contextlib.contextmanager
def interruptible(hooks):
    """While hooks may have to be finished, SIGHUP (a dropped SSH session), SIGINT and SIGTERM
    end the run by an exception (so the failed hooks run) instead of killing it where it
    stands. A signal ignored on entry (nohup) stays ignored; the handlers are given back."""
    if not hooks or threading.current_thread() is not threading.main_thread():
        yield
        return
    from ..errors import Interrupted
    from .hooks import STOP_SIGNALS
    stopping = []

    def stop(signum, frame):
        if stopping:        # SIGHUP comes more than once: one exception, the unwinding whole
            return
        stopping.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted(f"stopped by {signal.Signals(signum).name}",
                          fix="the hooks' failed phase ran; retry later")

    previous = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):   # None: not ours to replace
            previous[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
