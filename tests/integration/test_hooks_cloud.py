"""The user's hooks around real backups on the local cloud: pre before the request, post after
the capture, failed whatever ends the backup; under apt, a failing pre fails open."""

import signal
import time

import pytest

from cloud_fixtures import through
from runners import run_hook

ACTION = r"^/compute/v2\.1/servers/[0-9a-f-]+/action$"
IMAGE_GET = r"^/image/v2/images/[0-9a-f-]+$"
RECORD = """#!/bin/sh
echo "$1 $(date +%%s.%%N) ${NSH_IMAGE_ID:--} $NSH_TRIGGER" >> "%s"
"""


@pytest.fixture
def hooked(tool, tmp_path):
    """The tool with a hooks directory whose one hook records each phase and its time."""
    directory = tmp_path / "hooks.d"
    directory.mkdir()
    record = tmp_path / "phases"
    hook = directory / "10-record"
    hook.write_text(RECORD % record)
    hook.chmod(0o755)

    def configure(extra_hooks="", **settings):
        tool.write_settings(**settings)
        with open(tool.settings, "a") as handle:
            handle.write(f"[hooks]\ndirectory = {directory}\n{extra_hooks}")

    def phases():
        if not record.exists():
            return []
        return [line.split() for line in record.read_text().splitlines()]

    tool.configure, tool.phases, tool.hooks = configure, phases, directory
    configure()
    return tool


def created_epoch(image):
    from nova_snapshot_hook.rules.inventory import parse_time
    return parse_time(image["created_at"])


def test_pre_runs_before_the_request_and_post_after_the_capture(hooked, admin, control):
    control("hold_seconds", "2")                     # the disk is captured 2 s after the request
    started = time.time()
    result = hooked("snapshot", "hooks", "2", "--json")
    ended = time.time()
    assert result.returncode == 0, result.stderr
    (pre, pre_at, _, trigger), (post, post_at, image_id, _) = hooked.phases()
    assert (pre, post, trigger) == ("pre", "post", "manual")
    image = admin.glance.get(f"/v2/images/{image_id}").json()
    assert image["status"] in ("saving", "active")
    # Glance's created_at (whole seconds) is the request's moment: pre came before it
    assert started <= float(pre_at) < created_epoch(image) + 1
    # post came after the 2 s hold, i.e. once captured, and before the command returned
    assert float(post_at) - float(pre_at) >= 2.0 and float(post_at) <= ended


def test_a_refused_request_runs_failed(hooked, admin, proxy):
    through(proxy, hooked)
    proxy.add("POST", ACTION, "500", times=1)
    result = hooked("snapshot", "hooks", "2")
    assert result.returncode == 1
    assert [p[0] for p in hooked.phases()] == ["pre", "failed"]
    assert hooked.phases()[1][2] == "-"              # no image: Nova refused the request


def test_a_capture_timeout_runs_failed_with_the_image(hooked, admin, control, minicloud):
    control("hold_seconds", "10")
    result = hooked("snapshot", "hooks", "2", "--timeout", "3")
    assert result.returncode == 1 and "not captured before the deadline" in result.stderr
    phases = hooked.phases()
    assert [p[0] for p in phases] == ["pre", "failed"] and phases[1][2] != "-"
    admin.wait_idle(minicloud["server"], timeout=60)


def test_the_watchdog_ending_the_run_still_runs_failed(hooked, admin, proxy):
    through(proxy, hooked)
    with open(hooked.settings, "a") as handle:
        handle.write("[cloud]\napi_timeout = 120\n")   # only the watchdog can end the hang
    proxy.add("GET", IMAGE_GET, "hang", times=None)
    started = time.monotonic()
    result = hooked("snapshot", "hooks", "2", "--timeout", "3")
    took = time.monotonic() - started
    proxy.clear()
    assert result.returncode == 1 and "hard deadline" in result.stderr, result.stderr
    assert took < 30
    assert [p[0] for p in hooked.phases()] == ["pre", "failed"]


def test_sigterm_mid_run_still_runs_failed(hooked, admin, control):
    control("hold_seconds", "20")
    process = hooked.start("snapshot", "hooks", "2")
    end = time.monotonic() + 30
    while not hooked.phases() and time.monotonic() < end:
        time.sleep(0.1)
    time.sleep(2)                                    # the request is out, the capture held
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "SIGTERM" in err, err
    phases = hooked.phases()
    assert [p[0] for p in phases] == ["pre", "failed"] and phases[1][2] != "-"
    assert not (hooked.state / "hooks-pending").exists()


def test_a_hung_hook_is_killed_at_its_timeout_and_no_backup_is_taken(hooked, admin, minicloud):
    hung = hooked.hooks / "05-hung"
    hung.write_text("#!/bin/sh\n[ \"$1\" = pre ] && sleep 300\nexit 0\n")
    hung.chmod(0o755)
    hooked.configure(extra_hooks="timeout = 2\n")
    started = time.monotonic()
    result = hooked("snapshot", "hooks", "2")
    assert time.monotonic() - started < 20
    assert result.returncode == 1 and "05-hung (killed at its timeout)" in result.stderr
    assert [p[0] for p in hooked.phases()] == ["pre", "failed"]
    assert admin.images(instance_uuid=minicloud["server"]) == []


# -- under apt ----------------------------------------------------------------------------------
def apt_settings(hooked, tmp_path, apt_extra="", hooks_extra=""):
    settings = tmp_path / "apt.conf"
    settings.write_text(hooked.settings.read_text().replace(
        "[hooks]\n", f"[cloud]\ncredentials = {hooked.credentials}\n"
                     f"[apt]\nmin_interval = 0\nwait = 60\n{apt_extra}[hooks]\n") + hooks_extra)
    return settings


@pytest.fixture
def failing_pre(hooked):
    failing = hooked.hooks / "05-db-not-ready"
    failing.write_text("#!/bin/sh\n[ \"$1\" = pre ] && { echo database busy; exit 1; }\nexit 0\n")
    failing.chmod(0o755)
    return hooked


def test_a_failing_pre_under_apt_warns_and_apt_goes_on_without_an_image(failing_pre, admin,
                                                                        minicloud, tmp_path):
    result = run_hook(root=failing_pre.root, settings=apt_settings(failing_pre, tmp_path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == 1 and "05-db-not-ready" in warnings[0]
    assert "hook 05-db-not-ready pre: database busy" in result.stdout
    assert admin.images(instance_uuid=minicloud["server"]) == []
    assert [p[0] for p in failing_pre.phases()] == ["pre", "failed"]
    assert failing_pre.phases()[0][3] == "apt"


def test_a_failing_pre_in_strict_mode_stops_apt(failing_pre, admin, minicloud, tmp_path):
    result = run_hook(root=failing_pre.root,
                      settings=apt_settings(failing_pre, tmp_path, "strict = yes\n"))
    assert result.returncode == 99
    assert admin.images(instance_uuid=minicloud["server"]) == []


def test_pre_failure_snapshot_takes_the_backup_anyway_under_apt(failing_pre, admin, minicloud,
                                                                tmp_path):
    settings = apt_settings(failing_pre, tmp_path, hooks_extra="pre_failure = snapshot\n")
    result = run_hook(root=failing_pre.root, settings=settings)
    assert result.returncode == 0, result.stderr
    images = admin.images(instance_uuid=minicloud["server"])
    assert len(images) == 1 and images[0]["nsh_quiesce"] == "none"
    assert [p[0] for p in failing_pre.phases()] == ["pre", "post"]


# -- the quiesce report ---------------------------------------------------------------------------
def test_check_reads_the_real_image_metadata_and_the_vm_evidence(hooked, tmp_path, minicloud):
    root = tmp_path / "root"                        # the tool's identity_root (cloud_fixtures)
    result = hooked("check")
    line = [l for l in result.stdout.splitlines() if ": quiesce: " in l][0]
    assert line.startswith("WARN: quiesce: image hw_qemu_guest_agent=no; agent port absent")
    (root / "dev" / "virtio-ports").mkdir(parents=True)
    (root / "dev" / "virtio-ports" / "org.qemu.guest_agent.0").write_text("")
    (root / "proc" / "77").mkdir(parents=True)
    (root / "proc" / "77" / "comm").write_text("qemu-ga\n")
    line = [l for l in hooked("check").stdout.splitlines() if ": quiesce: " in l][0]
    # the port and the agent alone do not make Nova freeze: the image must ask for it
    assert "agent port present; qemu-guest-agent running" in line and line.startswith("WARN")
