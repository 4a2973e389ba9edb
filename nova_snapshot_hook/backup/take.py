"""Take one backup now, for every caller (the snapshot command, the apt hook, the schedule).

credentials -> which server -> host lock -> cloud session -> Snapshotter. A watchdog bounds the
wall time, since requests' timeouts do not cover name resolution or a stuck peer.
"""

import contextlib
import os
import signal
import time

from ..errors import HookError
from ..log import log, redactor

GRACE = 5.0     # the watchdog fires this long after the deadline the code itself keeps


class DeadlineExceeded(HookError):
    """The hard deadline passed: the run is abandoned wherever it was."""


@contextlib.contextmanager
def watchdog(seconds, grace=GRACE, last_words=None):
    """Raise DeadlineExceeded `grace` seconds after the deadline; if something swallows that
    (a library's broad except), end the process `grace` seconds later all the same.

    last_words: (message, exit status) for that final exit; None means exit status 1."""
    def kill(signum, frame):
        message, status = last_words or ("gave up: the hard deadline passed", 1)
        os.write(2, (message + "\n").encode("utf-8", "replace"))
        os._exit(status)

    def fire(signum, frame):
        signal.signal(signal.SIGALRM, kill)
        signal.setitimer(signal.ITIMER_REAL, grace)
        raise DeadlineExceeded(f"gave up after {seconds:.0f} s (the hard deadline)",
                               fix="check the network and the cloud, or raise the timeout")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds + grace)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_credentials(settings, path=None, use_environment=False):
    from ..cloud.credentials import load_credentials as load
    credentials = load(path or settings.credentials, use_environment=use_environment)
    redactor.add(*credentials.secrets())
    return credentials


def resolve_server(settings, override=None, metadata_url=None):
    from ..cloud.identity import resolve_server_id
    url = settings.metadata_url if metadata_url is None else metadata_url
    return resolve_server_id(override or settings.server_id, settings.identity_root, url,
                             settings.metadata_timeout, settings_path=settings.path)


def take_backup(settings, request, timeout, credentials_path=None, use_environment=False,
                server=None, credentials=None):
    """One backup of this server within `timeout` seconds; returns a snapshot.SnapshotResult.
    Every attempt's outcome is recorded for `status` (attempts.py)."""
    server_id = None
    try:
        deadline = time.monotonic() + timeout
        credentials = credentials or load_credentials(settings, credentials_path, use_environment)
        server_id, source = resolve_server(settings, server)
        log.info(f"Start OpenStack snapshot creation: server {server_id} (from {source}), "
                 f"series {request.series}, rotation {request.rotation}.")

        from ..cloud import token_cache
        from ..cloud.client import Cloud
        from ..files import HostLock
        from .snapshotter import Snapshotter
        with HostLock(settings.lock_path).acquire(deadline):
            cloud = Cloud(credentials, settings)
            token_cache.restore(cloud.session.auth, min_life=timeout)
            try:
                with cloud.translated("authenticating"):
                    redactor.add(cloud.session.get_token())     # the token never reaches output
                result = Snapshotter(cloud, server_id, request, deadline,
                                     os.uname().nodename).run()
            finally:
                token_cache.save(cloud.session.auth)
    except BaseException as err:
        _record_attempt(request, server_id, error=err)
        raise
    _record_attempt(request, server_id, image_id=result.image_id)
    return result


def _record_attempt(request, server_id, image_id=None, error=None):
    """Note the outcome for `status`; never raises, never changes the backup's own result."""
    try:
        from .attempts import outcome_of, record_attempt
        failure = outcome_of(error) if error is not None else None
        if error is None or failure is not None:
            record_attempt(request.series, request.trigger, server_id, image_id, failure)
    except Exception as err:
        log.debug(f"could not record the attempt for status: {err}")
