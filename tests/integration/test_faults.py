"""The fault matrix (issue 7): faults injected between the tool and the real cloud by a loopback
proxy, on the snapshot request, the status polls, authentication and our own rotation. Each row
asserts the outcome (apt goes on, or stops in strict mode), the exit status and the single
message, that no backup but a failed new one disappears, and that the host lock is released.

Each fault row runs under one of the apt hook, a `scheduled` run and a `snapshot` run, in turn
(`one_runner_each`), so every runner meets faults of each kind on the wire; what every runner
makes of every kind of failure is tests/unit/test_runner_outcomes.py, against the fake cloud.

Nova's own rotation (createBackup) runs inside the cloud, out of the proxy's reach: the rotation
rows use the createImage path ([snapshot] method = image), where the tool lists and deletes."""

import fcntl
import time

import pytest

from cloud_fixtures import read_state, through
from runners import run_hook

ACTION = r"^/compute/v2\.1/servers/[0-9a-f-]+/action$"
SERVER_GET = r"^/compute/v2\.1/servers/[0-9a-f-]+$"
IMAGE_GET = r"^/image/v2/images/[0-9a-f-]+$"
IMAGE_LIST = r"^/image/v2/images\?"
TOKENS = r"^/identity/v3/auth/tokens$"
RUNNERS = ("apt-hook", "scheduled", "snapshot")


@pytest.fixture
def faulty(tool, proxy, admin, minicloud, tmp_path):
    """The tool pointed at the proxy, with one older backup that must survive every fault. The
    apt hook, the scheduled run and `snapshot daily 5` all back up into rotating series."""
    through(proxy, tool)
    tool.settings.write_text(
        f"[server]\nid = {minicloud['server']}\nidentity_root = {tmp_path}/root\nmetadata_url =\n"
        f"[cloud]\ncredentials = {tool.credentials}\napi_timeout = 5\n"
        f"[snapshot]\nlock = {tmp_path}/lock\ntimeout = 20\npoll_interval = 0.3\n"
        f"[log]\nsyslog = no\n[apt]\nmin_interval = 0\nwait = 20\n"
        f"[schedule]\ndaily = 5\nweekly = 0\nmonthly = 0\nyearly = 0\nmax_delay = 0\nwait = 20\n")
    tool.schedule_state = tool.lib / "schedule"
    survivor = admin.nova.servers.backup(minicloud["server"], "survivor", "daily", 5)
    admin.wait_idle(minicloud["server"])
    tool.survivor = survivor["image_id"]
    yield tool
    proxy.clear()


def hook(tool, strict=False, wrap=()):
    settings = tool.settings
    if strict:
        settings = tool.settings.with_name("strict.conf")
        settings.write_text(tool.settings.read_text().replace("[apt]\n", "[apt]\nstrict = yes\n"))
    return run_hook(root=tool.root, settings=settings, wrap=wrap)


def scheduled(tool, wrap=()):
    return tool("scheduled", "--no-delay", wrap=wrap)


def run_as(runner, tool, wrap=()):
    if runner == "apt-hook":
        return hook(tool, wrap=wrap)
    if runner == "scheduled":
        return scheduled(tool, wrap)
    return tool("snapshot", "daily", "5", wrap=wrap)


def lines(result, level):
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith(level + ":")]


def lock_is_free(tool):
    with open(tool.settings.parent / "lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


def new_images(tool, admin, minicloud):
    return [image for image in admin.images(instance_uuid=minicloud["server"])
            if image["id"] != tool.survivor]


def check_aftermath(tool, admin, minicloud):
    admin.wait_idle(minicloud["server"])
    ids = [image["id"] for image in admin.images(instance_uuid=minicloud["server"])]
    assert tool.survivor in ids, "an older backup disappeared"
    assert lock_is_free(tool)


def check_failed(runner, tool, result, message):
    """apt goes on with one WARNING; the other runs end with one ERROR and exit 1 or 2, and a
    failed scheduled run is not recorded, so the next one tries again."""
    assert "Traceback" not in result.stderr
    if runner == "apt-hook":
        assert result.returncode == 0, result.stderr
        warnings = lines(result, "WARNING")
        assert len(warnings) == 1 and message in warnings[0], result.stderr
        assert "apt goes on" in warnings[0]
        return
    assert result.returncode in (1, 2), result.stdout + result.stderr
    errors = lines(result, "ERROR")
    assert len(errors) == 1 and message in errors[0], result.stderr
    if runner == "scheduled":
        assert not tool.schedule_state.exists() or tool.schedule_state.read_text() == ""


def check_made(runner, tool, result, admin, minicloud):
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(lines(result, "SUCCESS")) == 1, result.stdout + result.stderr
    admin.wait_idle(minicloud["server"])
    assert len(new_images(tool, admin, minicloud)) == 1, "no backup, or a duplicate"
    if runner == "scheduled":
        assert tool.schedule_state.read_text().endswith(" daily\n")


# fault, method, path, how many times, Retry-After, what the one line must say
FAILING = [
    ("403", "POST", ACTION, 1, None, "HTTP 403"),
    ("404", "GET", SERVER_GET, None, None, "does not exist"),
    ("500", "POST", ACTION, 1, None, "HTTP 500"),
    ("503", "GET", IMAGE_GET, None, None, "HTTP 503"),
    ("413", "POST", ACTION, 1, None, "HTTP 413"),                    # a quota: no Retry-After
    ("429", "POST", ACTION, None, 1, "HTTP 429"),                    # rate-limited past 5 waits
    ("reset", "POST", ACTION, None, None, "lost the connection to 127.0.0.1:"),
    ("hang", "POST", ACTION, None, None, "did not answer in time"),
    ("hang", "GET", IMAGE_GET, None, None, "did not answer in time"),
    ("401", "POST", TOKENS, None, None, "HTTP 401"),
    ("killed", "GET", IMAGE_GET, None, None, "status 'killed'; it was deleted"),
]
HEALED = [
    ("409", "POST", ACTION, 2, None),       # another task was running: waited out
    ("401", "GET", SERVER_GET, 1, None),    # the token expired mid-run: authenticated again
    ("429", "POST", ACTION, 2, 1),          # rate-limited: Retry-After waited out
    ("413", "POST", ACTION, 1, 1),          # the older rate-limit answer, with Retry-After
    ("503", "GET", IMAGE_GET, 2, 1),        # a poll answered "come back in a second"
]
# Our own rotation (createImage): the backup is made, the older ones all stay, one WARNING.
ROTATION_FAILING = [
    ("500", "GET", IMAGE_LIST, None, None),
    ("reset", "GET", IMAGE_LIST, None, None),
    ("503", "DELETE", IMAGE_GET, None, None),
    ("hang", "DELETE", IMAGE_GET, None, None),
]
# The endpoint itself fails (the catalog points Nova elsewhere): on the first compute request.
UNREACHABLE = [
    ("refused", "http://127.0.0.1:1", "cannot reach 127.0.0.1:1 (connection refused)"),
    ("tls", "https://127.0.0.1:{port}", "TLS"),
]


def row_ids(rows):
    return [f"{row[0]}-{row[1]}-{row[2].split('/')[1]}" for row in rows]


def one_runner_each(rows, ids, start=0):
    """The rows as pytest params, each with one runner, the runners in turn from `start`."""
    return [pytest.param(RUNNERS[(start + n) % len(RUNNERS)], *row, id=f"{row_id}-"
                         f"{RUNNERS[(start + n) % len(RUNNERS)]}")
            for n, (row, row_id) in enumerate(zip(rows, ids))]


@pytest.mark.parametrize("runner,fault,method,path,times,retry_after,message",
                         one_runner_each(FAILING, row_ids(FAILING)))
def test_a_failing_cloud_gives_one_line_and_loses_nothing(faulty, proxy, admin, minicloud, runner,
                                                          fault, method, path, times, retry_after,
                                                          message):
    proxy.add(method, path, fault, times, retry_after)
    started = time.monotonic()
    result = run_as(runner, faulty)
    check_failed(runner, faulty, result, message)
    assert time.monotonic() - started < 60          # a wait of 20 s, plus the watchdog's grace
    check_aftermath(faulty, admin, minicloud)
    if fault == "killed":
        assert new_images(faulty, admin, minicloud) == [], "the killed image was kept"


@pytest.mark.parametrize("runner,fault,base,message",
                         one_runner_each(UNREACHABLE, [row[0] for row in UNREACHABLE], start=1))
def test_an_unreachable_endpoint_gives_one_line(faulty, proxy, admin, minicloud, runner, fault,
                                                base, message):
    proxy.redirect("compute", base.format(port=proxy.port))
    result = run_as(runner, faulty)
    check_failed(runner, faulty, result, message)
    check_aftermath(faulty, admin, minicloud)
    assert new_images(faulty, admin, minicloud) == []


@pytest.mark.parametrize("runner,fault,method,path,times,retry_after",
                         one_runner_each(HEALED, row_ids(HEALED), start=2))
def test_passing_faults_are_healed_and_one_backup_is_made(faulty, proxy, admin, minicloud, runner,
                                                          fault, method, path, times,
                                                          retry_after):
    rule = proxy.add(method, path, fault, times, retry_after)
    result = run_as(runner, faulty)
    check_made(runner, faulty, result, admin, minicloud)
    assert rule.hits == times, "the fault was not injected"
    check_aftermath(faulty, admin, minicloud)


@pytest.fixture
def own_rotation(faulty, admin, minicloud):
    """The createImage path with rotation 1, and two older backups of ours in its series."""
    faulty.settings.write_text(
        faulty.settings.read_text().replace("[snapshot]\n", "[snapshot]\nmethod = image\n")
        .replace("[apt]\n", "[apt]\nseries = daily\nrotation = 1\n").replace("daily = 5", "daily = 1"))
    older = []
    for _ in range(2):
        made = faulty("snapshot", "daily", "5", "--wait", "active", "--json")
        assert made.returncode == 0, made.stderr
        older.append(made.stdout.split('"image_id": "')[1].split('"')[0])
    faulty.older = older                # ordered within one second by nsh_requested
    return faulty


@pytest.mark.parametrize("runner,fault,method,path,times,retry_after",
                         one_runner_each(ROTATION_FAILING, row_ids(ROTATION_FAILING)))
def test_a_failed_rotation_keeps_every_older_backup(own_rotation, proxy, admin, minicloud, runner,
                                                    fault, method, path, times, retry_after):
    rule = proxy.add(method, path, fault, times, retry_after)
    args = ("daily", "1") if runner == "snapshot" else ()
    result = (own_rotation("snapshot", *args) if runner == "snapshot"
              else run_as(runner, own_rotation))
    assert result.returncode == 0 and len(lines(result, "SUCCESS")) == 1, result.stderr
    warnings = lines(result, "WARNING")
    assert len(warnings) == 1 and "rotating the series daily failed" in warnings[0], result.stderr
    assert rule.hits >= 1, "the fault was not injected"
    check_aftermath(own_rotation, admin, minicloud)
    ids = [image["id"] for image in admin.images(instance_uuid=minicloud["server"])]
    assert set(own_rotation.older) <= set(ids), "an older backup went without a rotation"
    assert len(ids) == 4                          # survivor, two older, the new one


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_rate_limited_rotation_is_waited_out_and_done(own_rotation, proxy, admin, minicloud,
                                                        runner):
    rule = proxy.add("GET", IMAGE_LIST, "429", 1, 1)
    result = (own_rotation("snapshot", "daily", "1") if runner == "snapshot"
              else run_as(runner, own_rotation))
    assert result.returncode == 0 and lines(result, "WARNING") == [], result.stderr
    assert rule.hits == 1
    check_aftermath(own_rotation, admin, minicloud)
    ids = [image["id"] for image in admin.images(instance_uuid=minicloud["server"])]
    # Rotation 1: the oldest of ours went; the newest older one stays until the new is active.
    assert own_rotation.older[0] not in ids and len(ids) in (2, 3)


def test_strict_mode_stops_apt_cleanly(faulty, proxy, admin, minicloud):
    proxy.add("POST", ACTION, "500", 1)
    result = hook(faulty, strict=True)
    assert result.returncode == 99
    assert result.stderr.count("ERROR:") == 1 and "Strict mode" in result.stderr
    check_aftermath(faulty, admin, minicloud)


@pytest.mark.parametrize("runner", RUNNERS)
def test_an_image_lost_while_uploading_fails_and_only_it_goes(faulty, control, admin, minicloud,
                                                              runner):
    control("fail_next")
    result = run_as(runner, faulty)
    check_failed(runner, faulty, result, "failed")
    check_aftermath(faulty, admin, minicloud)
    assert new_images(faulty, admin, minicloud) == []


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_name_that_does_not_resolve_is_one_line_and_no_query_leaves_loopback(faulty, admin,
                                                                               minicloud, runner):
    # A private mount namespace whose resolv.conf names a 127.0.0.1 stub that answers nothing:
    # the host's resolver is never asked.
    resolv = faulty.settings.parent / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    faulty.credentials.write_text(read_state("openrc").replace(
        "http://127.0.0.1:5000/v3", "http://keystone.nsh-test.invalid:5000/v3") + "\n")
    result = run_as(runner, faulty, wrap=(
        "unshare", "--mount", "--propagation", "private", "sh", "-c",
        f"mount --bind {resolv} /etc/resolv.conf && exec"))
    check_failed(runner, faulty, result, "cannot reach keystone.nsh-test.invalid:5000 (")
    check_aftermath(faulty, admin, minicloud)
