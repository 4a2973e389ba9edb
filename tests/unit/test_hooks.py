"""The user's hooks (backup/hooks.py) and how take_backup runs them: run-parts naming, the
environment, phase order, the pre/post-or-failed invariant, timeouts, SIGTERM, kill -9's marker."""

import os
import signal
import time

import pytest

from nova_snapshot_hook.backup import hooks as user_hooks
from nova_snapshot_hook.backup import take
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, SnapshotResult
from nova_snapshot_hook.deadline import DeadlineExceeded
from nova_snapshot_hook.config import Settings
from nova_snapshot_hook.errors import CaptureTimeout, CloudError, Interrupted

SERVER = "11111111-2222-3333-4444-555555555555"
RECORDER = """#!/bin/sh
echo "$(basename "$0") $1 image=${NSH_IMAGE_ID:-} name=$NSH_IMAGE_NAME trigger=$NSH_TRIGGER \
series=$NSH_SERIES server=$NSH_SERVER_ID changes=${NSH_CHANGES:-} previous=${NSH_PREVIOUS:-}" \
>> "%(log)s"
echo "said by $(basename "$0") in $1"
exit ${%(fail)s:-0}
"""


def write_hook(directory, name, text, mode=0o755):
    path = directory / name
    path.write_text(text)
    path.chmod(mode)
    return path


class HookDir(type(__import__("pathlib").Path())):
    """A hooks directory that knows where its recorder hooks write."""
    log = None


@pytest.fixture
def hookdir(tmp_path):
    directory = HookDir(tmp_path / "hooks.d")
    directory.mkdir()
    directory.log = tmp_path / "calls"
    return directory


def recorder(hookdir, name, fail_variable="NSH_TEST_NEVER"):
    return write_hook(hookdir, name, RECORDER % {"log": hookdir.log, "fail": fail_variable})


def calls(hookdir):
    return hookdir.log.read_text().splitlines() if hookdir.log.exists() else []


# -- the directory ------------------------------------------------------------------------------
def test_only_executable_files_with_run_parts_names_run_in_sorted_order(hookdir):
    for name in ("20-second", "10-first", "b_third", "x.dpkg-old", "y.sh", "z~", "README"):
        write_hook(hookdir, name, "#!/bin/sh\n")
    (hookdir / "README").chmod(0o644)
    (hookdir / "subdir").mkdir()
    found = [os.path.basename(p) for p in user_hooks.hook_files(str(hookdir))]
    assert found == ["10-first", "20-second", "b_third"]
    assert user_hooks.hook_files(str(hookdir / "missing")) == []


def test_the_environment_names_the_backup_and_only_later_phases_get_the_image_id():
    env = user_hooks.environment("pre", "apt", "apt", SERVER, "vm-apt-x", changes="install a 1",
                                 image_id="img", base={"PATH": "/bin"})
    assert env["NSH_PHASE"] == "pre" and env["NSH_TRIGGER"] == "apt" and env["PATH"] == "/bin"
    assert env["NSH_CHANGES"] == "install a 1" and "NSH_IMAGE_ID" not in env
    post = user_hooks.environment("post", "manual", "manual", SERVER, "n", image_id="img", base={})
    assert post["NSH_IMAGE_ID"] == "img" and "NSH_CHANGES" not in post


def test_a_hung_hook_is_killed_with_its_process_group_at_the_timeout(tmp_path):
    child = tmp_path / "child.pid"
    hung = write_hook(tmp_path, "hung", f"#!/bin/sh\nsleep 100 &\necho $! > {child}\nsleep 100\n")
    started = time.monotonic()
    status, seconds, _ = user_hooks.run_one(str(hung), "pre", dict(os.environ), 0.5)
    assert status is None and time.monotonic() - started < 5
    pid = int(child.read_text())
    time.sleep(0.2)
    assert not alive(pid)


def alive(pid):
    """Running, not a zombie (this sandbox's PID 1 reaps no orphan)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line for line in status)
    except FileNotFoundError:
        return False


# -- take_backup runs them ------------------------------------------------------------------------
class Context:
    def __init__(self, hookdir, timeout=5.0, pre_failure="skip"):
        self.settings = Settings(server_id=SERVER, metadata_url="", lock_path=str(hookdir.parent / "lock"),
                                 hooks_directory=str(hookdir), hooks_timeout=timeout,
                                 hooks_pre_failure=pre_failure,
                                 identity_root=str(hookdir.parent / "root"))
        self.credentials, self.server, self.cloud = object(), (SERVER, "test"), object()
        self.deadline = time.monotonic() + 30


@pytest.fixture
def state(state_root):
    """The test's own /run/nova-snapshot-hook (tests/conftest.py)."""
    return state_root.run


def fake_snapshotter(monkeypatch, hookdir, outcome):
    """A Snapshotter that records its request among the hooks' calls, reports the capture (or
    not), then returns or raises `outcome`."""
    import nova_snapshot_hook.backup.snapshotter as snapshotter

    class Fake:
        def __init__(self, cloud, server_id, request, deadline, hostname, on_captured=None):
            self.request, self.on_captured, self.image_id = request, on_captured, None

        def run(self):
            with open(hookdir.log, "a") as log:
                log.write(f"REQUEST {self.request.name}\n")
            self.image_id = "img-new"
            if isinstance(outcome, BaseException):
                raise outcome
            self.on_captured("img-new")
            with open(hookdir.log, "a") as log:
                log.write("ROTATION\n")
            return SnapshotResult(image_id="img-new", name=self.request.name, series="daily",
                                  rotation=3, server_id=SERVER, method="createBackup",
                                  state="captured", seconds=0.1)

    monkeypatch.setattr(snapshotter, "Snapshotter", Fake)


REQUEST = SnapshotRequest(series="daily", rotation=3, trigger="schedule", name="vm-daily-x")


def test_pre_runs_before_the_request_and_post_once_captured_before_rotation(hookdir, state,
                                                                            monkeypatch):
    recorder(hookdir, "10-db")
    recorder(hookdir, "20-app")
    fake_snapshotter(monkeypatch, hookdir, None)
    take.take_backup(Context(hookdir), REQUEST)
    lines = calls(hookdir)
    assert [" ".join(line.split()[:2]) for line in lines] == [
        "10-db pre", "20-app pre", "REQUEST vm-daily-x", "10-db post",
        "20-app post", "ROTATION"]
    assert "image= name=vm-daily-x trigger=schedule series=daily" in lines[0]
    assert "image=img-new" in lines[3] and f"server={SERVER}" in lines[3]
    assert not (state / user_hooks.MARKER).exists()


@pytest.mark.parametrize("error", [CloudError("createBackup refused: HTTP 500"),
                                   CaptureTimeout("not captured before the deadline"),
                                   DeadlineExceeded("gave up"), KeyboardInterrupt()])
def test_failed_runs_whatever_ends_the_backup_after_pre(hookdir, state, monkeypatch, error):
    recorder(hookdir, "10-db")
    fake_snapshotter(monkeypatch, hookdir, error)
    with pytest.raises(type(error)):
        take.take_backup(Context(hookdir), REQUEST)
    lines = calls(hookdir)
    assert [line.split()[1] for line in lines if not line.startswith("REQUEST")] == [
        "pre", "failed"]
    assert "image=img-new" in lines[-1]
    assert not (state / user_hooks.MARKER).exists()


def test_a_failing_pre_takes_no_backup_runs_failed_and_fails_the_run(hookdir, state,
                                                                     monkeypatch):
    recorder(hookdir, "10-db", fail_variable="NSH_PHASE_FAILS")
    write_hook(hookdir, "05-fails", "#!/bin/sh\n[ \"$1\" = pre ] && exit 3\nexit 0\n")
    fake_snapshotter(monkeypatch, hookdir, None)
    with pytest.raises(user_hooks.PreHookFailed, match=r"05-fails \(exit status 3\)"):
        take.take_backup(Context(hookdir), REQUEST)
    lines = calls(hookdir)
    assert not any(line.startswith("REQUEST") for line in lines)
    assert [line.split()[1] for line in lines] == ["pre", "failed"]


def test_pre_failure_snapshot_takes_the_backup_anyway(hookdir, state, monkeypatch):
    write_hook(hookdir, "05-fails", "#!/bin/sh\n[ \"$1\" = pre ] && exit 3\nexit 0\n")
    recorder(hookdir, "10-db")
    fake_snapshotter(monkeypatch, hookdir, None)
    result = take.take_backup(Context(hookdir, pre_failure="snapshot"), REQUEST)
    assert result.image_id == "img-new"
    assert [line.split()[:2] for line in calls(hookdir)][-2:] == [["10-db", "post"],
                                                                  ["ROTATION"]]


def test_a_run_killed_after_pre_is_told_to_the_next_pre(hookdir, state, monkeypatch):
    recorder(hookdir, "10-db")
    state.mkdir(parents=True)
    (state / user_hooks.MARKER).write_text("12345\n")        # what kill -9 leaves
    fake_snapshotter(monkeypatch, hookdir, None)
    take.take_backup(Context(hookdir), REQUEST)
    assert "previous=interrupted" in calls(hookdir)[0]
    assert not (state / user_hooks.MARKER).exists()


def test_sigterm_becomes_an_exception_while_hooks_may_need_finishing(hookdir):
    recorder(hookdir, "10-db")
    hooks = user_hooks.Hooks(str(hookdir), 5, str(hookdir.parent / "st"), {})
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted):
        with take.interruptible(hooks):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) is before


def test_without_hooks_nothing_runs_and_sigterm_is_left_alone(tmp_path, state, monkeypatch):
    hookdir = HookDir(tmp_path / "none")  # absent: one directory listing, nothing else
    hookdir.log = tmp_path / "calls"
    fake_snapshotter(monkeypatch, hookdir, None)
    before = signal.getsignal(signal.SIGTERM)
    take.take_backup(Context(hookdir), REQUEST)
    assert signal.getsignal(signal.SIGTERM) is before
    assert calls(hookdir) == ["REQUEST vm-daily-x", "ROTATION"]


def test_hook_output_and_status_reach_the_log(hookdir, state, monkeypatch, caplog):
    recorder(hookdir, "10-db")
    fake_snapshotter(monkeypatch, hookdir, None)
    import logging
    from nova_snapshot_hook.log import log
    lines = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: lines.append(record.getMessage())
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.DEBUG)
    try:
        take.take_backup(Context(hookdir), REQUEST)
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
    assert "hook 10-db pre: said by 10-db in pre" in lines
    assert any(line.startswith("hook 10-db post: exit status 0 after") for line in lines)
