"""The hard deadline of a run. requests' timeouts do not cover name resolution or a stuck peer,
and apt has no timeout of its own while it holds the dpkg lock: a SIGALRM timer ends the run."""

import contextlib
import os
import signal

from .errors import HookError

GRACE = 5.0     # the watchdog fires this long after the deadline the code itself keeps


class DeadlineExceeded(HookError):
    """The hard deadline passed: the run is abandoned wherever it was."""


@contextlib.contextmanager
def suspended(bound=None):
    """Hold the timer while the post or failed hooks run: a lock that a pre hook took must be
    released even past the deadline (backup/hooks.py). With `bound`, an armed timer is set to
    it instead of stopped, so that nothing waits without end; what remained is given back
    after, unless the bound fired (the watchdog's last stage then runs its course)."""
    remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    handler = signal.getsignal(signal.SIGALRM)
    # only an armed timer has a handler behind it: SIGALRM's default would kill the process
    signal.setitimer(signal.ITIMER_REAL, bound if bound and remaining > 0 else 0)
    try:
        yield
    finally:
        if remaining > 0 and signal.getsignal(signal.SIGALRM) is handler:
            signal.setitimer(signal.ITIMER_REAL, remaining)


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
