"""What each way of running a backup makes of a failure, against the fake cloud: the apt hook
lets apt go on with one WARNING, `scheduled` and `snapshot` end with one ERROR line and exit 1 or
2, a failed scheduled run is not recorded, and no older backup goes.

The fault matrix on the real cloud (tests/integration/test_faults.py) proves that each fault on
the wire becomes its one line, under one runner per fault; this proves, for every runner and
every kind of failure, the outcome the runner owes its caller. Together they cover the runner x
fault product without paying for it on the real cloud.
"""

import os

import pytest

from fake_cloud import FakeCloud
from nova_snapshot_hook.cloud import session
from nova_snapshot_hook.errors import CloudError, CredentialsError, IdentityError
from runners import HOOK_STREAM, call_cli

RUNNERS = ("apt-hook", "scheduled", "snapshot")


def refuse(error):
    def fault(cloud):
        cloud.faults["execute"] = [error]
    return fault


def fail_capture(cloud):
    cloud.capture = ["queued"]
    cloud.between["execute"] = lambda cloud: (cloud.fail_action(),
                                              cloud.script_server(*cloud.servers, {
                                                  "OS-EXT-STS:task_state": None}))


def server_gone(cloud):
    cloud.faults["get_server"] = [IdentityError("server x does not exist in the project",
                                                fix="set [server] id")]


def a_bug(cloud):
    cloud.faults["get_image"] = [KeyError("status")]


# name, what goes wrong, what the one line says, the exit status of scheduled and snapshot
FAULTS = [
    ("refused", refuse(CloudError("createBackup of server s: HTTP 403 Policy doesn't allow",
                                  fix="the member role")), "HTTP 403", 1),
    ("unanswered", refuse(CloudError("createBackup of server s: the cloud did not answer in "
                                     "time (read timeout)", fix="retry")),
     "did not answer in time", 1),
    ("credentials", refuse(CredentialsError("createBackup: the cloud refused the credentials "
                                            "(HTTP 401)", fix="check the user")), "HTTP 401", 2),
    ("server gone", server_gone, "does not exist", 2),       # its fix is [server] id
    ("capture failed", fail_capture, "failed", 1),
    ("a bug", a_bug, "KeyError", 1),
]


@pytest.fixture
def fake(monkeypatch, tmp_path, state_root):
    """A fake cloud with this server and an older backup of ours that must survive; the program
    opens it instead of a session."""
    cloud = FakeCloud()
    server = cloud.add_server()
    cloud.survivor = cloud.add_image(instance_uuid=server, image_type="backup",
                                     backup_type="daily", nsh_series="daily", nsh_server=server)
    monkeypatch.setattr(session, "open_cloud", lambda *args, **kwargs: cloud)
    monkeypatch.setattr(session, "close_cloud", lambda cloud: None)
    credentials = tmp_path / "credentials"
    credentials.write_text("export OS_AUTH_URL=http://127.0.0.1:1/v3\nexport OS_USERNAME=u\n"
                           "export OS_PASSWORD=p\nexport OS_PROJECT_NAME=p\n")
    credentials.chmod(0o600)
    identity = tmp_path / "identity"
    identity.mkdir()
    settings = tmp_path / "nova-snapshot-hook.conf"
    settings.write_text(
        f"[server]\nid = {server}\nidentity_root = {identity}\nmetadata_url =\n"
        f"[cloud]\ncredentials = {credentials}\n"
        f"[snapshot]\nlock = {tmp_path}/lock\ntimeout = 20\npoll_interval = 0.01\n"
        "[log]\nsyslog = no\n[apt]\nmin_interval = 0\nwait = 20\n"
        "[schedule]\ndaily = 5\nweekly = 0\nmonthly = 0\nyearly = 0\nmax_delay = 0\nwait = 20\n")
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_CONFIG", str(settings))
    cloud.settings, cloud.state = settings, state_root
    return cloud


def run(runner, fake, capsys, monkeypatch):
    if runner == "apt-hook":
        read_end, write_end = os.pipe()
        with open(HOOK_STREAM, "rb") as stream:
            os.write(write_end, stream.read())
        os.close(write_end)
        monkeypatch.setenv("APT_HOOK_INFO_FD", str(read_end))
        try:
            return call_cli("apt-hook", capsys=capsys)
        finally:
            try:
                os.close(read_end)
            except OSError:
                pass
    args = ("scheduled", "--no-delay") if runner == "scheduled" else ("snapshot", "daily", "5")
    return call_cli("--config", fake.settings, *args, capsys=capsys)


def lines(result, level):
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith(level + ":")]


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("name, fault, message, status", FAULTS, ids=[f[0] for f in FAULTS])
def test_every_runner_owes_its_caller_one_line_and_its_status(fake, capsys, monkeypatch, runner,
                                                              name, fault, message, status):
    fault(fake)
    result = run(runner, fake, capsys, monkeypatch)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if runner == "apt-hook":
        warnings = lines(result, "WARNING")
        assert result.returncode == 0, output
        assert len(warnings) == 1 and message in warnings[0] and "apt goes on" in warnings[0], \
            output
    else:
        errors = lines(result, "ERROR")
        assert result.returncode == status, output
        assert len(errors) == 1 and message in errors[0], output
    if runner == "scheduled":
        schedule = fake.state.schedule
        assert not schedule.exists() or schedule.read_text() == ""
    assert fake.survivor in fake.images, "an older backup went"
    # A bug while polling leaves the capture Nova accepted to go on; every other failure here
    # leaves no new image (none was made, or the failed one was deleted).
    assert len(fake.images) == (2 if name == "a bug" else 1), "a failed backup left its image"


@pytest.mark.parametrize("runner", RUNNERS)
def test_every_runner_succeeds_with_one_backup_on_a_healthy_cloud(fake, capsys, monkeypatch,
                                                                  runner):
    result = run(runner, fake, capsys, monkeypatch)
    assert result.returncode == 0, result.stdout + result.stderr
    assert lines(result, "WARNING") == [] and lines(result, "ERROR") == []
    assert len(fake.images) == 2 and fake.survivor in fake.images
    if runner == "scheduled":
        assert fake.state.schedule.read_text().endswith(" daily\n")
