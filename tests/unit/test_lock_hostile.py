"""The host lock against an unprivileged local user: flock needs only a read-only descriptor, so
whoever can open the lock can hold it and make every backup (and apt, which waits for the hook)
wait to its deadline. The lock lives in a root-only directory, and one that another user made or
can change is refused at once."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from nova_snapshot_hook.config import Settings
from nova_snapshot_hook.files import FileLock, UnsafeLock
from test_hook import INSTALL, run_hook

NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")


@pytest.fixture
def public_base():
    """A directory any user can enter, as /run is: the lock's own directory must keep them out."""
    base = tempfile.mkdtemp(prefix="nsh-lock-test-")
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base)


def test_the_default_lock_is_in_the_root_only_state_directory():
    assert os.path.dirname(Settings().lock_path) == "/run/nova-snapshot-hook"


@as_root
def test_an_unprivileged_user_cannot_hold_the_lock(public_base):
    path = os.path.join(public_base, "nova-snapshot-hook", "lock")
    FileLock(path).try_acquire()          # made by root, as the first backup makes it
    FileLock(path).release()
    holder = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         "/usr/bin/python3", "-I", "-c",
         "import fcntl, sys, time\n"
         "try:\n    handle = open(sys.argv[1])\n"
         "except OSError as err:\n    print('refused', err.errno, flush=True); sys.exit(0)\n"
         "fcntl.flock(handle, fcntl.LOCK_EX)\nprint('holding', flush=True)\ntime.sleep(30)\n",
         path], stdout=subprocess.PIPE, text=True)
    try:
        first = holder.stdout.readline().strip()
        started = time.monotonic()
        with FileLock(path).acquire(time.monotonic() + 3):
            waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert first.startswith("refused")
    assert waited < 1
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_lock_in_a_directory_others_can_write_is_refused_at_once(public_base):
    shared = os.path.join(public_base, "lock")           # like /run/lock: 1777
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    started = time.monotonic()
    with pytest.raises(UnsafeLock) as raised:
        FileLock(os.path.join(shared, "nova-snapshot-hook.lock")).acquire(time.monotonic() + 5)
    assert time.monotonic() - started < 1
    assert "writable by group or others" in str(raised.value)
    assert "[snapshot] lock" in raised.value.fix


@as_root
def test_a_lock_file_another_user_made_is_refused(tmp_path):
    path = tmp_path / "lock"
    path.write_text("")
    os.chown(path, NOBODY, NOBODY)
    with pytest.raises(UnsafeLock, match="owned by uid 65534"):
        FileLock(str(path)).try_acquire()


def test_a_symbolic_link_at_the_lock_is_refused(tmp_path):
    (tmp_path / "elsewhere").write_text("")
    (tmp_path / "lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafeLock, match="symbolic link"):
        FileLock(str(tmp_path / "lock")).try_acquire()


def test_a_fifo_at_the_lock_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "lock")
    with pytest.raises(UnsafeLock, match="not a regular file"):
        FileLock(str(tmp_path / "lock")).try_acquire()


def test_the_apt_hook_names_an_unsafe_lock_in_one_line_and_goes_on(tmp_path, public_base):
    shared = os.path.join(public_base, "lock")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    status, out, err = run_hook(INSTALL, tmp_path, lock=f"{shared}/nova-snapshot-hook.lock")
    assert status == 0 and "Traceback" not in err
    warnings = err.strip().splitlines()
    assert len(warnings) == 1 and "writable by group or others" in warnings[0]


def test_a_lock_whose_file_was_replaced_meanwhile_is_taken_on_the_new_file(tmp_path, monkeypatch):
    # The schedule's state file is its own lock and is replaced whole by atomic_write: a run
    # that opened the old file before the rename must not lock that nameless inode.
    from nova_snapshot_hook import files
    path = str(tmp_path / "schedule")
    files.atomic_write(path, "2026-12-06 daily\n")
    stale = open(path, "a+")
    files.atomic_write(path, "2026-12-07 daily\n")
    real_open, opened = files.open_private, []

    def open_old_first(*args):
        opened.append(args)
        return stale if len(opened) == 1 else real_open(*args)
    monkeypatch.setattr(files, "open_private", open_old_first)
    lock = FileLock(path)
    assert lock.try_acquire() and len(opened) == 2
    assert os.fstat(lock.handle.fileno()).st_ino == os.stat(path).st_ino
    lock.release()
