import os
import re
import stat
import time

import pytest

from nova_snapshot_hook.backup import attempts, take as backup
from nova_snapshot_hook.config import Settings
from nova_snapshot_hook.cloud.credentials import CredentialsNotConfigured
from nova_snapshot_hook.errors import CloudError, IdentityError
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, SnapshotResult

SERVER = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def path(state_root):
    """The test's own attempts file (tests/conftest.py)."""
    return state_root.attempts


def test_a_success_then_a_failure_keeps_the_time_of_the_last_success(path):
    attempts.record_attempt("daily", "schedule", SERVER, "img-1", now=100.0)
    attempts.record_attempt("daily", "schedule", SERVER, error="HTTP 500", now=200.0)
    entry = attempts.read()["daily"]
    assert entry["outcome"] == "failed" and entry["time"] == 200.0
    assert entry["error"] == "HTTP 500" and entry["last_success"] == 100.0
    assert entry["server"] == SERVER and entry["trigger"] == "schedule"


def test_each_series_keeps_its_own_entry(path):
    attempts.record_attempt("daily", "schedule", SERVER, "d", now=1.0)
    attempts.record_attempt("apt", "apt", SERVER, error="boom", now=2.0)
    recorded = attempts.read()
    assert recorded["daily"]["outcome"] == "succeeded" and recorded["apt"]["outcome"] == "failed"


def test_the_file_is_root_only_and_replaced_without_leftovers(path):
    attempts.record_attempt("daily", "manual", SERVER, "x")
    attempts.record_attempt("daily", "manual", SERVER, "y")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(path.parent)) == ["attempts", "attempts.lock"]


def test_a_damaged_or_missing_file_reads_as_no_attempts(path):
    assert attempts.read() == {}
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert attempts.read() == {}
    path.write_text('{"series": {"daily": {"time": "yesterday", "outcome": "succeeded"}}}')
    assert attempts.read() == {}
    attempts.record_attempt("daily", "manual", SERVER, "z", now=5.0)
    assert attempts.read()["daily"]["image"] == "z"


def test_no_credentials_yet_is_not_an_attempt_and_errors_are_masked():
    from nova_snapshot_hook.log import redactor
    assert attempts.outcome_of(CredentialsNotConfigured("no credentials")) is None
    assert attempts.outcome_of(KeyboardInterrupt()) == "interrupted"
    redactor.add("Very-Secret-Value")
    assert "Very-Secret-Value" not in attempts.outcome_of(CloudError("auth Very-Secret-Value"))


# -- take_backup records every attempt, and its result does not change --------------------------
REQUEST = SnapshotRequest(series="daily", rotation=3, trigger="schedule")
SETTINGS = Settings(server_id=SERVER, metadata_url="", lock_path="/nonexistent/lock")


class FakeContext:
    """The parts of context.Context that take_backup uses; `credentials` and `server` may be
    exceptions, raised where the real context would raise them."""

    def __init__(self, credentials=None, server=(SERVER, "test"), cloud=None, lock_path=None):
        self._credentials, self._server, self.cloud = credentials or object(), server, cloud
        self.settings = Settings(server_id=SERVER, metadata_url="",
                                 lock_path=lock_path or "/nonexistent/lock")
        self.deadline = time.monotonic() + 10

    @property
    def credentials(self):
        if isinstance(self._credentials, BaseException):
            raise self._credentials
        return self._credentials

    @property
    def server(self):
        if isinstance(self._server, BaseException):
            raise self._server
        return self._server


@pytest.fixture
def server_gone():
    """take_backup gets credentials, then finds no server: the error it must raise unchanged."""
    return IdentityError("server gone")


def test_take_backup_records_a_failure_and_raises_the_same_error(path, server_gone):
    refused = server_gone
    with pytest.raises(IdentityError) as caught:
        backup.take_backup(FakeContext(server=refused), REQUEST)
    assert caught.value is refused
    entry = attempts.read()["daily"]
    assert entry["outcome"] == "failed" and entry["error"] == "server gone"
    assert entry["server"] is None and entry["trigger"] == "schedule"


def test_take_backup_records_nothing_while_no_credentials_exist(path):
    missing = CredentialsNotConfigured("no credentials in the file")
    with pytest.raises(CredentialsNotConfigured):
        backup.take_backup(FakeContext(credentials=missing), REQUEST)
    assert not path.exists()


def test_a_recording_that_fails_does_not_change_the_error_raised(tmp_path, monkeypatch,
                                                                  server_gone):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(blocker))     # the file cannot be created
    refused = server_gone
    with pytest.raises(IdentityError) as caught:
        backup.take_backup(FakeContext(server=refused), REQUEST)
    assert caught.value is refused


def succeed(monkeypatch, tmp_path):
    import nova_snapshot_hook.backup.snapshotter as snapshot
    result = SnapshotResult(image_id="img-new", name="n", series="daily", rotation=3,
                            server_id=SERVER, method="createBackup", state="captured", seconds=0.1)

    class FakeSnapshotter:
        def __init__(self, cloud, server_id, request, deadline, hostname, on_captured=None):
            assert server_id == SERVER and request.series == REQUEST.series
            assert request.properties["nsh_quiesce"] in ("agent", "none")

        def run(self):
            return result

    monkeypatch.setattr(snapshot, "Snapshotter", FakeSnapshotter)
    return result, FakeContext(cloud=object(), lock_path=str(tmp_path / "lock"))


def test_take_backup_records_a_success_and_returns_the_same_result(path, monkeypatch, tmp_path):
    result, ctx = succeed(monkeypatch, tmp_path)
    assert backup.take_backup(ctx, REQUEST) is result
    entry = attempts.read()["daily"]
    assert entry["outcome"] == "succeeded" and entry["image"] == "img-new"
    assert entry["server"] == SERVER and entry["last_success"] == entry["time"]


def test_a_success_is_returned_even_when_recording_fails(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(blocker))
    result, ctx = succeed(monkeypatch, tmp_path)
    assert backup.take_backup(ctx, REQUEST) is result


def test_the_host_lock_held_by_another_run_names_its_holder(tmp_path, monkeypatch, path):
    from nova_snapshot_hook.errors import HookError
    from nova_snapshot_hook.files import FileLock
    result, ctx = succeed(monkeypatch, tmp_path)
    ctx.deadline = time.monotonic() + 0.2
    with FileLock(ctx.settings.lock_path, note_pid=True).acquire(ctx.deadline):
        with pytest.raises(HookError, match=f"pid {os.getpid()}"):
            backup.take_backup(ctx, REQUEST)
    assert backup.take_backup(ctx, REQUEST) is result       # released with its holder


def test_the_default_host_lock_follows_the_state_root(path, monkeypatch, tmp_path, state_root):
    from nova_snapshot_hook.errors import HookError
    from nova_snapshot_hook.files import FileLock
    result, ctx = succeed(monkeypatch, tmp_path)
    ctx.settings = Settings(server_id=SERVER, metadata_url="")     # [snapshot] lock: the default
    ctx.deadline = time.monotonic() + 0.2
    lock = state_root.run / "lock"
    with FileLock(str(lock), note_pid=True).acquire(ctx.deadline):
        with pytest.raises(HookError, match=re.escape(f"pid {os.getpid()}) holds {lock}")):
            backup.take_backup(ctx, REQUEST)
