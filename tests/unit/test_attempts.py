import contextlib
import os
import stat

import pytest

from nova_snapshot_hook.backup import attempts, take as backup
from nova_snapshot_hook.config import Settings
from nova_snapshot_hook.cloud.credentials import CredentialsNotConfigured
from nova_snapshot_hook.errors import CloudError, IdentityError
from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, SnapshotResult

SERVER = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def path(tmp_path, monkeypatch):
    target = tmp_path / "state" / "attempts"
    monkeypatch.setenv(attempts.ENVIRONMENT, str(target))
    return target


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


# -- backup.take_backup records every attempt, and its result does not change -----------------
REQUEST = SnapshotRequest(series="daily", rotation=3, trigger="schedule")
SETTINGS = Settings(server_id=SERVER, metadata_url="", lock_path="/nonexistent/lock")


@pytest.fixture
def server_gone(monkeypatch):
    """take_backup gets credentials, then finds no server: the error it must raise unchanged."""
    refused = IdentityError("server gone")
    monkeypatch.setattr(backup, "load_credentials", lambda *a, **k: object())
    monkeypatch.setattr(backup, "resolve_server", lambda *a, **k: (_ for _ in ()).throw(refused))
    return refused


def test_take_backup_records_a_failure_and_raises_the_same_error(path, server_gone):
    refused = server_gone
    with pytest.raises(IdentityError) as caught:
        backup.take_backup(SETTINGS, REQUEST, 10)
    assert caught.value is refused
    entry = attempts.read()["daily"]
    assert entry["outcome"] == "failed" and entry["error"] == "server gone"
    assert entry["server"] is None and entry["trigger"] == "schedule"


def test_take_backup_records_nothing_while_no_credentials_exist(path, monkeypatch):
    def missing(*args, **kwargs):
        raise CredentialsNotConfigured("no credentials in the file")
    monkeypatch.setattr(backup, "load_credentials", missing)
    with pytest.raises(CredentialsNotConfigured):
        backup.take_backup(SETTINGS, REQUEST, 10)
    assert not path.exists()


def test_a_recording_that_fails_does_not_change_the_error_raised(tmp_path, monkeypatch,
                                                                  server_gone):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(attempts.ENVIRONMENT, str(blocker / "attempts"))   # cannot be created
    refused = server_gone
    with pytest.raises(IdentityError) as caught:
        backup.take_backup(SETTINGS, REQUEST, 10)
    assert caught.value is refused


class FakeSession:
    auth = object()

    def get_token(self):
        return "fake-token-value"


class FakeCloud:
    def __init__(self, credentials, settings):
        self.session = FakeSession()

    @contextlib.contextmanager
    def translated(self, doing):
        yield


class FakeLock:
    def __init__(self, path):
        pass

    @contextlib.contextmanager
    def acquire(self, deadline):
        yield


def succeed(monkeypatch):
    import nova_snapshot_hook.cloud.client as cloud
    import nova_snapshot_hook.files as lock
    import nova_snapshot_hook.backup.snapshotter as snapshot
    import nova_snapshot_hook.cloud.token_cache as token_cache
    result = SnapshotResult(image_id="img-new", name="n", series="daily", rotation=3,
                            server_id=SERVER, method="createBackup", state="captured", seconds=0.1)

    class FakeSnapshotter:
        def __init__(self, *args):
            pass

        def run(self):
            return result

    monkeypatch.setattr(backup, "load_credentials", lambda *a, **k: object())
    monkeypatch.setattr(backup, "resolve_server", lambda *a, **k: (SERVER, "test"))
    monkeypatch.setattr(cloud, "Cloud", FakeCloud)
    monkeypatch.setattr(lock, "HostLock", FakeLock)
    monkeypatch.setattr(snapshot, "Snapshotter", FakeSnapshotter)
    monkeypatch.setattr(token_cache, "restore", lambda *a, **k: False)
    monkeypatch.setattr(token_cache, "save", lambda *a, **k: None)
    return result


def test_take_backup_records_a_success_and_returns_the_same_result(path, monkeypatch):
    result = succeed(monkeypatch)
    assert backup.take_backup(SETTINGS, REQUEST, 10) is result
    entry = attempts.read()["daily"]
    assert entry["outcome"] == "succeeded" and entry["image"] == "img-new"
    assert entry["server"] == SERVER and entry["last_success"] == entry["time"]


def test_a_success_is_returned_even_when_recording_fails(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(attempts.ENVIRONMENT, str(blocker / "attempts"))
    result = succeed(monkeypatch)
    assert backup.take_backup(SETTINGS, REQUEST, 10) is result
