"""files.atomic_write in a directory other users can write (a textfile collector's), and the
schedule's state file written whole: a failure half-way leaves the old record."""

import contextlib
import datetime
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nova_snapshot_hook import files
from nova_snapshot_hook.commands import scheduled

from host_state import StateRoot

REPO = Path(__file__).resolve().parents[2]


def run_bounded(code, timeout=10):
    """Run `code` in a child with a hard timeout: a write that blocks on a planted FIFO must fail
    the test, not hang it."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def old_temporary_name(path, pid):
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{pid}.tmp")


def test_a_fifo_at_the_old_predictable_name_neither_hangs_nor_receives_the_write(tmp_path):
    target = tmp_path / "nsh.prom"
    # The child plants the FIFO at the name its own pid would have given, then writes.
    result = run_bounded(f"""
        import os
        from nova_snapshot_hook.files import atomic_write
        target = {str(target)!r}
        fifo = os.path.join(os.path.dirname(target), f".nsh.prom.{{os.getpid()}}.tmp")
        os.mkfifo(fifo)
        atomic_write(target, "metric 1\\n", mode=0o644, sync=True)
        print("done")
    """)
    assert result.returncode == 0 and result.stdout == "done\n", result.stderr
    assert target.read_text() == "metric 1\n"
    fifos = [p for p in tmp_path.iterdir() if stat.S_ISFIFO(p.lstat().st_mode)]
    assert len(fifos) == 1          # left alone: not ours to remove
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["nsh.prom", fifos[0].name])


def test_a_symlink_at_the_old_predictable_name_does_not_redirect_the_write(tmp_path):
    target, victim = tmp_path / "state", tmp_path / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, old_temporary_name(str(target), os.getpid()))
    files.atomic_write(str(target), "new\n")
    assert victim.read_text() == "precious\n"
    assert target.read_text() == "new\n" and not target.is_symlink()


def test_the_temporary_name_is_not_predictable_and_hidden_from_a_collector(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(files.os, "replace",
                        lambda source, target: (seen.append(source), real_replace(source, target)))
    for _ in range(2):
        files.atomic_write(str(tmp_path / "nsh.prom"), "x\n")
    names = [os.path.basename(name) for name in seen]
    assert len(set(names)) == 2 and str(os.getpid()) not in "".join(names)
    assert all(name.startswith(".nsh.prom.") and name.endswith(".tmp") for name in names)


def test_an_existing_file_at_the_drawn_name_is_never_opened_another_is_drawn(tmp_path,
                                                                            monkeypatch):
    draws = iter([b"\x00" * 8, b"\x00" * 8, b"\x01" * 8])
    monkeypatch.setattr(files.os, "urandom", lambda n: next(draws))
    planted = tmp_path / f".state.{'00' * 8}.tmp"
    planted.write_text("someone else's\n")
    files.atomic_write(str(tmp_path / "state"), "ours\n")
    assert planted.read_text() == "someone else's\n"
    assert (tmp_path / "state").read_text() == "ours\n"
    assert sorted(os.listdir(tmp_path)) == sorted(["state", planted.name])


def test_a_failure_half_way_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "state"
    target.write_text("old\n")

    def failing_fsync(descriptor):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(files.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        files.atomic_write(str(target), "new\n", sync=True)
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["state"]


def test_a_write_bounded_by_an_alarm_completes_in_a_planted_directory(tmp_path):
    # In-process too, under signal.alarm, with FIFOs at every pid-like name near ours.
    target = tmp_path / "nsh.prom"
    for pid in range(os.getpid() - 2, os.getpid() + 3):
        os.mkfifo(old_temporary_name(str(target), pid))

    def too_slow(*_):
        raise TimeoutError("atomic_write blocked")
    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(10)
    try:
        files.atomic_write(str(target), "m 1\n", mode=0o644)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert target.read_text() == "m 1\n"


# -- the schedule's state ------------------------------------------------------------------------
@contextlib.contextmanager
def held_state(root, text, monkeypatch):
    """The state file as a scheduled run holds it, with `root` as NOVA_SNAPSHOT_HOOK_ROOT:
    written, and open as its lock's handle, released at the end. (path, lock)."""
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(root))
    path = StateRoot(root).schedule
    path.parent.mkdir(parents=True)
    path.write_text(text)
    lock = files.FileLock(str(path))
    assert lock.try_acquire()
    try:
        yield path, lock
    finally:
        lock.release()


def test_a_state_write_that_fails_half_way_leaves_the_last_record(tmp_path, monkeypatch):
    with held_state(tmp_path, "2026-11-28 daily\n", monkeypatch) as (state, lock):
        # A text that cannot be encoded fails inside the write itself, after any truncation.
        with pytest.raises(UnicodeEncodeError):
            scheduled.write_state(lock.path, datetime.date(2026, 11, 29), "weekly\udc80")
    assert state.read_text() == "2026-11-28 daily\n"
    assert os.listdir(state.parent) == ["schedule"]


def test_a_state_write_whose_sync_fails_leaves_the_last_record(tmp_path, monkeypatch):
    def failing_fsync(descriptor):
        raise OSError(28, "No space left on device")
    with held_state(tmp_path, "2026-11-28 daily\n", monkeypatch) as (state, lock):
        monkeypatch.setattr(os, "fsync", failing_fsync)
        with pytest.raises(OSError):
            scheduled.write_state(lock.path, datetime.date(2026, 11, 29), "weekly")
    assert state.read_text() == "2026-11-28 daily\n"


def test_a_state_write_is_whole_and_synced_and_seen_by_the_next_lock(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    with held_state(tmp_path, "2026-11-28 daily\n", monkeypatch) as (state, lock):
        # A run that opened the file before the rename and locks it after ours reads the new
        # record: its lock lands on the file the rename put in place.
        late = open(state, "a+", encoding="utf-8")
        monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
        scheduled.write_state(lock.path, datetime.date(2026, 11, 29), "weekly")
    opened = []
    monkeypatch.setattr(files, "open_private",
                        lambda *args, real=files.open_private: opened.append(args) or (
                            late if len(opened) == 1 else real(*args)))
    waiting = files.FileLock(str(state))
    assert waiting.try_acquire()
    assert synced
    assert state.read_text() == "2026-11-29 weekly\n"
    assert scheduled.read_state_from(waiting.handle) == (datetime.date(2026, 11, 29), "weekly")
    waiting.release()
    assert stat.S_IMODE(state.stat().st_mode) & 0o022 == 0
    assert os.listdir(state.parent) == ["schedule"]
