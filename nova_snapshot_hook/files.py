"""One snapshot at a time per host: an fcntl lock, released by the kernel when the process ends."""

import fcntl
import os
import time

from .errors import HookError


class HostLock:
    def __init__(self, path):
        self.path = path
        self.handle = None

    def acquire(self, deadline):
        """Wait for the lock until `deadline` (time.monotonic()); a kill -9 never leaves it stale."""
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self.handle = open(self.path, "a+", encoding="ascii")
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    self.handle.close()
                    self.handle = None
                    raise HookError(f"another nova-snapshot-hook run{holder} holds {self.path}",
                                    fix="wait for it to finish, or raise [snapshot] timeout") from None
                time.sleep(0.2)
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"{os.getpid()}\n")
        self.handle.flush()
        return self

    def _holder(self):
        try:
            self.handle.seek(0)
            pid = self.handle.read().strip()
            return f" (pid {pid})" if pid.isdigit() else ""
        except OSError:
            return ""

    def release(self):
        if self.handle:
            self.handle.close()     # closing drops the flock
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
