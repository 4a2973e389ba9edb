"""The fault matrix (issue 7): faults injected between the tool and the real cloud by a loopback
proxy, on the snapshot request, the status polls and authentication, under the apt hook and
under a plain `snapshot` run. Each row asserts the outcome (apt goes on, or stops in strict
mode), the exit status and the single message, that no older backup disappears, and that the
host lock is released."""

import fcntl
import time

import pytest

from cloud_fixtures import read_state, run_hook
from faultproxy import FaultProxy

ACTION = r"^/compute/v2\.1/servers/[0-9a-f-]+/action$"
SERVER_GET = r"^/compute/v2\.1/servers/[0-9a-f-]+$"
IMAGE_GET = r"^/image/v2/images/[0-9a-f-]+$"
TOKENS = r"^/identity/v3/auth/tokens$"


@pytest.fixture(scope="module")
def proxy():
    running = FaultProxy().start()
    yield running
    running.stop()


@pytest.fixture
def faulty(tool, proxy, admin, minicloud, tmp_path):
    """The tool pointed at the proxy, with one older backup that must survive every fault."""
    proxy.clear()
    tool.credentials.write_text(read_state("openrc").replace(
        "http://127.0.0.1:5000/v3", proxy.auth_url) + "\n")
    tool.settings.write_text(
        f"[server]\nid = {minicloud['server']}\nidentity_root = {tmp_path}/root\nmetadata_url =\n"
        f"[cloud]\ncredentials = {tool.credentials}\napi_timeout = 5\n"
        f"[snapshot]\nlock = {tmp_path}/lock\ntimeout = 20\npoll_interval = 0.3\n"
        f"[log]\nsyslog = no\n[apt]\nmin_interval = 0\nwait = 20\n")
    survivor = admin.nova.servers.backup(minicloud["server"], "survivor", "daily", 5)
    admin.wait_idle(minicloud["server"])
    tool.survivor = survivor["image_id"]
    time.sleep(1.1)
    yield tool
    proxy.clear()


def hook(tool, strict=False):
    settings = tool.settings
    if strict:
        settings = tool.settings.with_name("strict.conf")
        settings.write_text(tool.settings.read_text() + "strict = yes\n")
    return run_hook(settings, tool.state)


def snapshot(tool):
    return tool("snapshot", "daily", "5")


def lock_is_free(tool):
    with open(tool.settings.parent / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


def check_aftermath(tool, admin, minicloud):
    admin.wait_idle(minicloud["server"])
    ids = [image["id"] for image in admin.images(instance_uuid=minicloud["server"])]
    assert tool.survivor in ids, "an older backup disappeared"
    assert lock_is_free(tool)


# fault, where, how many times, Retry-After, what the run must end with
FAILING = [
    ("403", ACTION, 1, None, "HTTP 403"),
    ("404", SERVER_GET, None, None, "does not exist"),
    ("500", ACTION, 1, None, "HTTP 500"),
    ("503", IMAGE_GET, None, None, "HTTP 503"),
    ("413", ACTION, 1, None, "HTTP 413"),
    ("reset", ACTION, None, None, "cannot reach the cloud"),
    ("hang", ACTION, None, None, "did not answer in time"),
    ("401", TOKENS, None, None, "HTTP 401"),
]
HEALED = [
    ("409", ACTION, 2, None),       # another task was running: waited out
    ("401", SERVER_GET, 1, None),   # the token expired mid-run: keystoneauth authenticates again
]


def ids(rows):
    return [f"{row[0]}-{row[1].split('/')[1]}" for row in rows]


@pytest.mark.parametrize("fault,path,times,retry_after,message", FAILING, ids=ids(FAILING))
def test_apt_goes_on_with_one_warning_when_the_cloud_fails(faulty, proxy, admin, minicloud, fault,
                                                           path, times, retry_after, message):
    proxy.add(".*", path, fault, times, retry_after)
    started = time.monotonic()
    result = hook(faulty)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == 1 and message in warnings[0], result.stderr
    assert "apt goes on" in warnings[0] and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60          # [apt] wait = 20, plus the watchdog's grace
    check_aftermath(faulty, admin, minicloud)


@pytest.mark.parametrize("fault,path,times,retry_after,message", FAILING, ids=ids(FAILING))
def test_a_snapshot_run_fails_with_one_line_and_exit_status(faulty, proxy, admin, minicloud, fault,
                                                            path, times, retry_after, message):
    proxy.add(".*", path, fault, times, retry_after)
    result = snapshot(faulty)
    assert result.returncode in (1, 2), result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    check_aftermath(faulty, admin, minicloud)


@pytest.mark.parametrize("fault,path,times,retry_after", HEALED, ids=ids(HEALED))
def test_passing_faults_are_healed_and_the_backup_is_made(faulty, proxy, admin, minicloud, fault,
                                                          path, times, retry_after):
    proxy.add(".*", path, fault, times, retry_after)
    result = hook(faulty)
    assert result.returncode == 0 and "SUCCESS:" in result.stdout, result.stdout + result.stderr
    admin.wait_idle(minicloud["server"])
    assert len(admin.images(instance_uuid=minicloud["server"], nsh_trigger="apt")) == 1
    check_aftermath(faulty, admin, minicloud)


def test_strict_mode_stops_apt_cleanly(faulty, proxy, admin, minicloud):
    proxy.add(".*", ACTION, "500", 1)
    result = hook(faulty, strict=True)
    assert result.returncode == 99
    assert result.stderr.count("ERROR:") == 1 and "Strict mode" in result.stderr
    check_aftermath(faulty, admin, minicloud)


def test_an_image_lost_while_uploading_fails_and_only_it_goes(faulty, control, admin, minicloud):
    control("fail_next")
    result = hook(faulty)
    assert result.returncode == 0 and "failed" in result.stderr, result.stderr
    check_aftermath(faulty, admin, minicloud)
    assert admin.images(instance_uuid=minicloud["server"], nsh_trigger="apt") == []


def test_a_name_that_does_not_resolve_is_one_warning_and_no_query_leaves_loopback(faulty, admin,
                                                                                    minicloud):
    # A private mount namespace whose resolv.conf names a 127.0.0.1 stub that answers nothing:
    # the host's resolver is never asked.
    resolv = faulty.settings.parent / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    faulty.credentials.write_text(read_state("openrc").replace(
        "http://127.0.0.1:5000/v3", "http://keystone.nsh-test.invalid:5000/v3") + "\n")
    result = run_hook(faulty.settings, faulty.state, wrap=(
        "unshare", "--mount", "--propagation", "private", "sh", "-c",
        f"mount --bind {resolv} /etc/resolv.conf && exec"))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == 1 and "cannot reach the cloud" in warnings[0], result.stderr
    check_aftermath(faulty, admin, minicloud)
