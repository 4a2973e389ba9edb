"""The two file habits of the tool: replace a file whole (never half-written), and an fcntl lock
that the kernel releases when the process ends, so a kill -9 never leaves it stale.

Imports only the standard library's small modules: the apt hook writes its state with these.
"""

import errno
import fcntl
import os
import stat
import time

from .errors import ConfigError
from .paths import LOCK


def atomic_write(path, text, mode=0o600, sync=False):
    """Write `text` to a sibling temporary file, then rename it over `path`: a reader sees the old
    file or the new one. The temporary name starts with a dot and does not end like the target,
    so a collector watching for `*.prom` ignores it. `sync` flushes it to disk first (state that
    must survive a power cut). Raises OSError; the temporary file is removed on failure."""
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = _create_temporary(directory, os.path.basename(path), mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)      # the umask must not widen or narrow it
            handle.write(text)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
        if sync:
            _sync_directory(directory)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _create_temporary(directory, name, mode, attempts=16):
    """(descriptor, path) of a new, empty file beside `name`: a random name, created with O_EXCL
    and O_NOFOLLOW, so a FIFO, symlink or file planted by another user in a shared directory (a
    collector's textfile directory) is never opened: os.urandom, not tempfile, whose import costs
    the hook about a start-up of its own."""
    for _ in range(attempts):
        temporary = os.path.join(directory, f".{name}.{os.urandom(8).hex()}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                           | os.O_CLOEXEC, mode), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {os.path.join(directory, name)}")


def _sync_directory(directory):
    """Make the rename itself durable: without it a power cut may bring back the old name."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass        # some file systems refuse fsync on a directory; the data itself is synced
    finally:
        os.close(descriptor)


class FileLock:
    """An exclusive flock on `path`, taken with a deadline (time.monotonic()) or without waiting.

        with FileLock(path).acquire(deadline) as lock: ...     # raises LockBusy at the deadline
        lock = FileLock(path); if lock.try_acquire(): ...      # False when another holds it

    The holder's pid is written into the file when `note_pid` is set, so a busy lock can say who
    holds it. The handle stays open for the caller (`lock.handle`), who may keep state in it.

    flock needs only a read-only descriptor, so whoever can open the file can hold the lock and
    stall every backup: the lock lives in a directory that only its owner can write (made 0700
    when missing), and a file or directory that another user made is refused (UnsafeLock)."""

    STEP = 0.05

    def __init__(self, path, note_pid=False, dir_mode=0o700):
        self.path = path
        self.note_pid = note_pid
        self.dir_mode = dir_mode
        self.handle = None

    def try_acquire(self):
        while True:
            self.handle = open_private(self.path, self.dir_mode)
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.release()
                return False
            if self._still_named():
                break
            self.release()      # replaced (atomic_write) while we waited: lock the new file
        if self.note_pid:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.write(f"{os.getpid()}\n")
            self.handle.flush()
        return True

    def _still_named(self):
        try:
            named = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        held = os.fstat(self.handle.fileno())
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

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


def open_private(path, dir_mode=0o700):
    """Open (or create, 0600) `path` for reading and writing, refusing a file or a directory
    that another user could have planted or can still change: raises UnsafeLock."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=dir_mode, exist_ok=True)
    _check_owned(directory, os.lstat(directory), "directory")
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                             | os.O_NONBLOCK, 0o600)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafeLock(path, "is a symbolic link") from None
        raise
    try:
        _check_owned(path, os.fstat(descriptor), "file")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "a+", encoding="utf-8")
    except BaseException:
        os.close(descriptor)
        raise


def _check_owned(path, info, kind):
    if kind == "directory" and not stat.S_ISDIR(info.st_mode):
        raise UnsafeLock(path, "is not a directory")
    if kind == "file" and not stat.S_ISREG(info.st_mode):
        raise UnsafeLock(path, "is not a regular file")
    if info.st_uid != os.geteuid():
        raise UnsafeLock(path, f"is owned by uid {info.st_uid}, not by uid {os.geteuid()}, "
                               "who runs the backups")
    if info.st_mode & 0o022:
        raise UnsafeLock(path, "is writable by group or others")


class UnsafeLock(ConfigError):
    """A lock or its directory that another user made or can change: refused, not waited on."""

    def __init__(self, path, why):
        super().__init__(f"the lock {path} {why}: any local user could hold it and stop "
                         "every backup", fix=f"remove {path}, or set [snapshot] lock to a path "
                         f"in a directory only root can write (the default, {LOCK})")
        self.path = path


class LockBusy(Exception):
    """Another process held the lock until the deadline."""

    def __init__(self, path, pid):
        super().__init__(f"{path} is held" + (f" by pid {pid}" if pid else ""))
        self.path, self.pid = path, pid
