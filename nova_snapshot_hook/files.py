"""The two file habits of the tool: replace a file whole (never half-written), and an fcntl lock
that the kernel releases when the process ends, so a kill -9 never leaves it stale.

Imports only the standard library's small modules: the apt hook writes its state with these.
"""

import fcntl
import os
import time


def atomic_write(path, text, mode=0o600, sync=False):
    """Write `text` to a sibling temporary file, then rename it over `path`: a reader sees the old
    file or the new one. The temporary name starts with a dot and does not end like the target,
    so a collector watching for `*.prom` ignores it. `sync` flushes it to disk first (state that
    must survive a power cut). Raises OSError; the temporary file is removed on failure."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                             | os.O_CLOEXEC, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)      # the umask must not widen or narrow it
            handle.write(text)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class FileLock:
    """An exclusive flock on `path`, taken with a deadline (time.monotonic()) or without waiting.

        with FileLock(path).acquire(deadline) as lock: ...     # raises LockBusy at the deadline
        lock = FileLock(path); if lock.try_acquire(): ...      # False when another holds it

    The holder's pid is written into the file when `note_pid` is set, so a busy lock can say who
    holds it. The handle stays open for the caller (`lock.handle`), who may keep state in it."""

    STEP = 0.05

    def __init__(self, path, note_pid=False, dir_mode=0o755):
        self.path = path
        self.note_pid = note_pid
        self.dir_mode = dir_mode
        self.handle = None

    def try_acquire(self):
        os.makedirs(os.path.dirname(self.path) or ".", mode=self.dir_mode, exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            return False
        if self.note_pid:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.write(f"{os.getpid()}\n")
            self.handle.flush()
        return True

    def acquire(self, deadline):
        """Wait for the lock until `deadline`; LockBusy names the holder when it is known."""
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise LockBusy(self.path, self.holder())
            time.sleep(self.STEP)
        return self

    def holder(self):
        """The pid written by the lock's holder, or None."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self):
        if self.handle:
            self.handle.close()     # closing drops the flock
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class LockBusy(Exception):
    """Another process held the lock until the deadline."""

    def __init__(self, path, pid):
        super().__init__(f"{path} is held" + (f" by pid {pid}" if pid else ""))
        self.path, self.pid = path, pid
