"""The exit-code contract (doc/exit-codes.md, the man page's EXIT STATUS): every command gives
each code the table lists for it, through the real CLI in this process. Against
tests/fake_cloud.py (the scene of test_runner_outcomes: this server and an older daily backup),
except `check` and `access-rules`, which need Keystone's token and catalog: those run against the
HTTP fake of test_access_rules.

0 done, 1 the operation failed, 2 the user must fix something, 99 strict mode stops apt;
`status` and `fleet status`: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""

import datetime
import json
import re
import uuid

import pytest

from nova_snapshot_hook.apt import registration, state
from nova_snapshot_hook.cloud import session
from nova_snapshot_hook.errors import CloudError, IdentityError
from nova_snapshot_hook.rules import inventory, naming, pinning
from runners import call_cli
from test_access_rules import fake as http_fake
from test_runner_outcomes import fake, run as run_runner

__all__ = ["fake", "http_fake"]   # fixtures: pytest finds them here by these names

REFUSED = CloudError("the request: HTTP 403 Policy doesn't allow it", fix="the member role")
UNREACHABLE = CloudError("authenticating: 127.0.0.1:1 cannot reach the cloud (connection refused)",
                         fix="check the network")
GONE = IdentityError("server s does not exist in the project", fix="set [server] id")


def unreachable(cloud, monkeypatch):
    def refuse(*args, **kwargs):
        raise UNREACHABLE
    monkeypatch.setattr(session, "open_cloud", refuse)


def fault(method, error=REFUSED):
    def prepare(cloud, monkeypatch):
        cloud.faults[method] = [error]
    return prepare


def bad_server_id(cloud, monkeypatch):
    server = next(iter(cloud.servers))
    cloud.settings.write_text(cloud.settings.read_text().replace(f"id = {server}", "id = web01"))


def no_credentials_yet(cloud, monkeypatch):
    """The package as installed: a credentials file that holds none."""
    for name in ("OS_AUTH_URL", "OS_CLOUD"):
        monkeypatch.delenv(name, raising=False)
    credentials = cloud.settings.parent / "credentials"
    credentials.write_text("# export OS_AUTH_URL=...\n")


def ours(cloud, monkeypatch):
    """The older backup as our createBackup made it, so that it may be pinned."""
    cloud.images[cloud.survivor][naming.METHOD_PROPERTY] = "createBackup"


def pinned(cloud, monkeypatch):
    ours(cloud, monkeypatch)
    cloud.patch_image(cloud.survivor, pinning.pin_patch(cloud.images[cloud.survivor]))


def killed(cloud, monkeypatch):
    """The series' newest image is Glance's failed upload."""
    server = next(iter(cloud.servers))
    cloud.add_image(instance_uuid=server, nsh_series="daily", nsh_server=server,
                    status="killed")


def credential_expiring(days):
    """The application credential in use expires `days` after the backup's fresh moment."""
    def prepare(cloud, monkeypatch):
        created = inventory.parse_time(cloud.images[cloud.survivor]["created_at"])
        expires = datetime.datetime.fromtimestamp(created + 3600 + days * 86400 + 600,
                                                  datetime.timezone.utc)
        cloud.credential = {"id": "ac1", "name": "nsh", "expires_at": expires.isoformat()}
    return prepare


def then(*steps):
    def prepare(cloud, monkeypatch):
        for step in steps:
            step(cloud, monkeypatch)
    return prepare


def unknowns(argv):
    """What makes either monitoring command UNKNOWN (3), never a verdict on the backups: the
    cloud unreachable, no credentials, a word it does not know, a bug of ours."""
    return [(unreachable, argv, 3), (None, "--credentials {missing} " + argv, 3),
            (None, argv + " --bogus", 3), (fault("list_images", KeyError("status")), argv, 3)]


# what is done first, the arguments ({survivor} the older backup, {unknown} an image
# id nobody has, {missing} a file that does not exist, {broken} a settings file with a bad
# value, {fresh} and {stale} times an hour and three days after the backup), the exit status
CASES = [
    (None, "snapshot daily 5", 0),
    (None, "snapshot --dry-run", 0),
    (fault("execute"), "snapshot daily 5", 1),
    (unreachable, "snapshot daily 5", 1),
    (None, "--credentials {missing} snapshot daily 5", 2),
    (None, "snapshot daily 0", 2),
    (bad_server_id, "snapshot daily 5", 2),
    (fault("get_server", GONE), "snapshot daily 5", 2),
    (None, "scheduled --no-delay", 0),
    (no_credentials_yet, "scheduled --no-delay", 0),
    (unreachable, "scheduled --no-delay", 1),
    (None, "--credentials {missing} scheduled --no-delay", 2),
    (None, "scheduled --date 2027-01-01", 2),
    (None, "list", 0),
    (unreachable, "list", 1),
    (None, "--credentials {missing} list", 2),
    (None, "show {survivor}", 0),
    (fault("get_image"), "show {survivor}", 1),
    (None, "show {unknown}", 2),
    (None, "restore {survivor} --rebuild --dry-run", 0),
    (None, "restore {survivor} --rebuild --yes --no-wait", 0),
    (fault("execute"), "restore {survivor} --rebuild --yes --no-wait", 1),
    (None, "restore {survivor} --rebuild", 2),
    (ours, "pin {survivor}", 0),
    (then(ours, fault("patch_image")), "pin {survivor}", 1),
    (pinned, "pin {survivor}", 2),
    (pinned, "unpin {survivor}", 0),
    (then(pinned, fault("patch_image")), "unpin {survivor}", 1),
    (None, "unpin {survivor}", 2),
    (None, "prune", 0),
    (fault("list_images"), "prune", 1),
    (None, "prune --series Daily!", 2),
    (None, "status --at {fresh}", 0),
    (None, "status --at {stale}", 1),
    (credential_expiring(10), "status --at {fresh}", 1),
    (killed, "status --at {fresh}", 2),
    (credential_expiring(3), "status --at {fresh}", 2),
    *unknowns("status"),
    (None, "--config {broken} status", 3),
    (None, "status --at tomorrow", 3),
    (None, "fleet snapshot daily 5 --all", 0),
    (None, "fleet snapshot --all --dry-run", 0),
    (fault("execute"), "fleet snapshot daily 5 --all", 1),
    (unreachable, "fleet snapshot daily 5 --all", 1),
    (None, "fleet snapshot daily 5", 2),
    (None, "fleet snapshot daily 5 --all --concurrency 0", 2),
    (None, "fleet status --all", 0),
    (None, "fleet status --all --series weekly --max-age 1h", 1),
    (killed, "fleet status --all", 2),
    *unknowns("fleet status --all"),
    (None, "fleet status --tag nowhere", 3),
    (None, "fleet status", 3),
    (None, "fleet status --all --max-age soon", 3),
    (None, "--version", 0),
    (None, "", 2),
    (None, "nonsense", 2),
]


def moments(cloud):
    created = inventory.parse_time(cloud.images[cloud.survivor]["created_at"])
    return {when: datetime.datetime.fromtimestamp(created + hours * 3600, datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M") for when, hours in (("fresh", 1), ("stale", 72))}


def monitoring(argv):
    """Whether the command of `argv` is status or fleet status (global options before it)."""
    words = re.sub(r"--(config|credentials) \S+ ", "", argv).split()
    return words[:1] == ["status"] or words[:2] == ["fleet", "status"]


@pytest.mark.parametrize("prepare, argv, code", CASES,
                         ids=[f"{case[1] or '(none)'} -> {case[2]}" for case in CASES])
def test_every_command_gives_each_of_its_codes(fake, capsys, monkeypatch, tmp_path, prepare,
                                                argv, code):
    if prepare:
        prepare(fake, monkeypatch)
    broken = tmp_path / "broken.conf"
    broken.write_text("[snapshot]\ntimeout = soon\n")
    words = [word.format(survivor=fake.survivor, unknown=uuid.uuid4(), missing=tmp_path / "none",
                         broken=broken, **moments(fake)) for word in argv.split()]
    config = [] if "--config" in words else ["--config", fake.settings]
    result = call_cli(*config, *words, capsys=capsys) if words else call_cli(capsys=capsys)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output
    if code == 3 or not monitoring(argv):                     # not a verdict: a failure
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
        assert len(errors) == (0 if code == 0 else 1), output   # says its one line


def test_status_unknown_still_writes_the_metrics_file(fake, capsys, monkeypatch, tmp_path):
    """Prometheus learns the same UNKNOWN: the status gauge 3 and the cloud down."""
    unreachable(fake, monkeypatch)
    metrics = tmp_path / "nsh.prom"
    result = call_cli("--config", fake.settings, "status", "--prometheus", metrics, capsys=capsys)
    assert result.returncode == 3 and "cannot read the backups" in result.stderr
    text = metrics.read_text()
    assert "nova_snapshot_hook_status 3\n" in text and "nova_snapshot_hook_cloud_up 0\n" in text
    assert "3 unknown" in text


def test_status_and_fleet_status_json_carry_the_exit_status(fake, capsys):
    killed(fake, None)
    status = call_cli("--config", fake.settings, "status", "--json", capsys=capsys)
    assert status.returncode == json.loads(status.stdout)["exit_status"] == 2
    fleet = call_cli("--config", fake.settings, "fleet", "status", "--all", "--json",
                     capsys=capsys)
    assert fleet.returncode == json.loads(fleet.stdout)["exit_status"] == 2


# -- the apt hook and apt-post-invoke ------------------------------------------------------------
def strict(cloud, monkeypatch):
    cloud.settings.write_text(cloud.settings.read_text().replace("[apt]\n", "[apt]\nstrict = yes\n"))


@pytest.mark.parametrize("prepare, code", [(None, 0), (fault("execute"), 0),
                                           (then(strict, fault("execute")), 99),
                                           (then(strict, unreachable), 99)],
                         ids=["backup", "failure warned", "strict refused", "strict unreachable"])
def test_the_apt_hook_gives_0_or_in_strict_mode_99(fake, capsys, monkeypatch, prepare, code):
    if prepare:
        prepare(fake, monkeypatch)
    assert run_runner("apt-hook", fake, capsys, monkeypatch).returncode == code


@pytest.mark.parametrize("pending", [False, True], ids=["nothing pending", "cloud fails"])
def test_apt_post_invoke_gives_0_even_when_the_cloud_fails(fake, capsys, monkeypatch, pending):
    if pending:
        state.write(state.PENDING_OUTCOME, state.format_pending_outcome(fake.survivor, {}))
        unreachable(fake, monkeypatch)
    result = call_cli("apt-post-invoke", capsys=capsys)
    assert result.returncode == 0
    assert ("could not record" in result.stderr) is pending


# -- check and access-rules: Keystone's token and catalog ----------------------------------------
def apt_hook(verdict):
    def prepare(cloud, monkeypatch):
        monkeypatch.setattr(registration, "hook_registration",
                            lambda: registration.Registration(verdict, "as the test says"))
    return prepare


def without_a_rule(cloud, monkeypatch):
    cloud.rules = [rule for rule in cloud.rules if not rule["path"].endswith("/os-instance-actions")]


def no_auth_url(cloud, monkeypatch):
    monkeypatch.delenv("OS_AUTH_URL")


def expires_in_3_days(cloud, monkeypatch):
    import time
    cloud.expires_at = datetime.datetime.fromtimestamp(
        time.time() + 3 * 86400 + 600, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


@pytest.mark.parametrize("prepare, argv, code", [
    (apt_hook("OK"), "check", 0),
    (then(apt_hook("OK"), unreachable), "check", 1),
    (then(apt_hook("OK"), no_auth_url), "check", 2),
    (then(apt_hook("OK"), without_a_rule), "check", 2),
    (then(apt_hook("OK"), expires_in_3_days), "check", 2),
    (apt_hook("FAIL"), "check", 2),
    (then(apt_hook("FAIL"), unreachable), "check", 2),     # the highest wins
    (None, "access-rules", 0),
    (unreachable, "access-rules", 1),
    (None, "access-rules --for nonsense", 2),
    (no_auth_url, "access-rules", 2),
], ids=["check 0", "check 1 unreachable", "check 2 credentials", "check 2 access rules",
        "check 2 credential expiry", "check 2 apt hook", "check 2 over 1", "access-rules 0", "access-rules 1 unreachable",
        "access-rules 2 --for", "access-rules 2 credentials"])
def test_check_and_access_rules_give_each_of_their_codes(http_fake, capsys, monkeypatch, prepare,
                                                         argv, code):
    cloud, _, run = http_fake()
    if prepare:
        prepare(cloud, monkeypatch)
    assert run(*argv.split()) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if argv == "check" and code:
        assert any(line.startswith("FAIL: ") for line in out.splitlines()), out
