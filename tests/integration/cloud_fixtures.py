"""Integration tests: the real CLI against the local cloud (minicloud/up), no faked HTTP.

`make check` starts the cloud and sets NSH_REQUIRE_CLOUD=1, so a missing cloud fails these tests
instead of skipping them.
"""

import os
import shlex
import subprocess
import sys
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.append(os.path.join(REPO, "minicloud"))
# The local cloud's state files, shared with the benchmarks; the tests import them from here.
from minicloud_state import STATE, openrc_vars, read_state  # noqa: E402

PYTHON = "/usr/bin/python3"


def env_file_vars():
    """KEY=value lines of $STATE/env; {} when it is missing."""
    try:
        text = read_state("env")
    except FileNotFoundError:
        return {}
    return {key: value for key, _, value in (line.partition("=") for line in text.splitlines())
            if key.startswith("MINICLOUD_")}


@pytest.fixture(scope="session")
def minicloud():
    if not os.path.exists(os.path.join(STATE, "server_id")):
        if os.environ.get("NSH_REQUIRE_CLOUD") == "1":
            pytest.fail(f"the local cloud is not up ({STATE}); run minicloud/up")
        pytest.skip("the local cloud is not up; run minicloud/up (make check does)")
    env = env_file_vars()
    return {"server": read_state("server_id"), "server2": read_state("server2_id"),
            "other_server": read_state("other_server_id"),
            # Cinder: None on a cloud made before it had them
            "bfv_server": env.get("MINICLOUD_BFV_SERVER_ID"),
            "bfv_volume": env.get("MINICLOUD_BFV_VOLUME_ID"),
            "data_volume": env.get("MINICLOUD_DATA_VOLUME_ID"),
            "cinder_port": env.get("MINICLOUD_PORT_CINDER")}


@pytest.fixture(scope="session")
def admin(minicloud):
    """novaclient + a Glance adapter as the demo user, to check what the tool did."""
    from keystoneauth1 import adapter, session
    from keystoneauth1.identity import v3
    from novaclient import client

    env = openrc_vars("openrc")
    auth = v3.Password(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"],
                       password=env["OS_PASSWORD"], project_name=env["OS_PROJECT_NAME"],
                       user_domain_name=env.get("OS_USER_DOMAIN_NAME", "Default"),
                       project_domain_name=env.get("OS_PROJECT_DOMAIN_NAME", "Default"))
    sess = session.Session(auth=auth)

    class Admin:
        nova = client.Client("2.45", session=sess)
        glance = adapter.Adapter(sess, service_type="image", interface="public")

        def images(self, **filters):
            return self.glance.get("/v2/images", params=dict(filters, limit=1000)).json()["images"]

        def backups(self, server, series):
            return self.images(instance_uuid=server, backup_type=series)

        def delete_server_images(self, server):
            for image in self.images(instance_uuid=server):
                if image.get("protected"):          # pinned or restored from by a test
                    self.glance.patch(f"/v2/images/{image['id']}", json=[
                        {"op": "replace", "path": "/protected", "value": False}],
                        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
                self.glance.delete(f"/v2/images/{image['id']}")

        def wait_idle(self, server, timeout=60):
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if getattr(self.nova.servers.get(server), "OS-EXT-STS:task_state") is None:
                    return
                time.sleep(0.3)
            raise AssertionError(f"server {server} stayed busy")

    return Admin()


@pytest.fixture
def control():
    """The fake driver's knobs (hold_seconds, fail_next); always reset after the test."""
    directory = os.path.join(STATE, "control")
    os.makedirs(directory, exist_ok=True)

    def put(name, value="1"):
        with open(os.path.join(directory, name), "w", encoding="ascii") as handle:
            handle.write(str(value))

    yield put
    for name in ("hold_seconds", "fail_next"):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass


@pytest.fixture
def tool(tmp_path, minicloud, admin):
    """Run the real CLI with its own settings, credentials, lock and state under tmp_path."""
    identity_root = tmp_path / "root"          # detection finds nothing: the settings name the server
    identity_root.mkdir()
    state_root = tmp_path / "host"             # NOVA_SNAPSHOT_HOOK_ROOT: / for the tool's state
    credentials = tmp_path / "credentials"
    credentials.write_text(read_state("openrc") + "\n")
    credentials.chmod(0o600)
    settings = tmp_path / "nova-snapshot-hook.conf"

    def write_settings(server=minicloud["server"], extra=""):
        """`extra` lines go into [snapshot]."""
        settings.write_text(f"[server]\nid = {server}\nidentity_root = {identity_root}\n"
                            f"metadata_url =\n[snapshot]\nlock = {tmp_path}/lock\ntimeout = 120\n"
                            f"poll_interval = 0.5\n{extra}[log]\nsyslog = no\n")

    def run(*args, env=None, timeout=180, wrap=()):
        """`wrap`, as for run_hook: a command whose last word is a shell script."""
        command = [PYTHON, "-m", "nova_snapshot_hook", "--config", str(settings),
                   "--credentials", str(credentials), *args]
        if wrap:
            command = [*wrap[:-1], wrap[-1] + " " + shlex.join(command)]
        clean_env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        clean_env["NOVA_SNAPSHOT_HOOK_ROOT"] = str(state_root)   # token cache, attempts etc.
        clean_env.update(env or {})
        return subprocess.run(command, cwd=REPO, env=clean_env, capture_output=True, text=True,
                              timeout=timeout)

    run.credentials, run.settings, run.write_settings = credentials, settings, write_settings
    run.root = state_root
    run.state = state_root / "run" / "nova-snapshot-hook"          # the token cache, hooks-pending
    run.lib = state_root / "var" / "lib" / "nova-snapshot-hook"    # attempts, schedule
    write_settings()
    admin.wait_idle(minicloud["server"])
    admin.delete_server_images(minicloud["server"])
    yield run
    admin.wait_idle(minicloud["server"])
    admin.delete_server_images(minicloud["server"])


@pytest.fixture(scope="module")
def proxy():
    """A loopback fault proxy (faultproxy.py) for a module's tests; each test clears it."""
    from faultproxy import FaultProxy
    running = FaultProxy().start()
    yield running
    running.stop()


def through(proxy, tool):
    """Point the tool's credentials at the proxy: every later request goes through it."""
    proxy.clear()
    tool.credentials.write_text(read_state("openrc").replace(
        openrc_vars("openrc")["OS_AUTH_URL"], proxy.auth_url) + "\n")


HOOK_STREAM = os.path.join(REPO, "tests", "fixtures", "apt-hook", "bookworm-install-new.txt")


def start_hook(settings, root, wrap=()):
    """The apt hook as apt starts it: a real stream on the fd APT_HOOK_INFO_FD names (the pipe's
    own number, so threads of this process never collide on a fixed fd). `wrap`: a command
    whose last word is a shell script; the hook command is appended to that script. `root`: the
    NOVA_SNAPSHOT_HOOK_ROOT of its state (a tool's `root`). Returns the running Popen (text
    stdout and stderr pipes), the whole stream written."""
    read_end, write_end = os.pipe()
    env = {"PATH": "/usr/bin:/bin", "APT_HOOK_INFO_FD": str(read_end),
           "NOVA_SNAPSHOT_HOOK_CONFIG": str(settings), "NOVA_SNAPSHOT_HOOK_ROOT": str(root)}
    hook = [PYTHON, "-m", "nova_snapshot_hook", "apt-hook"]
    command = [*wrap[:-1], wrap[-1] + " " + " ".join(hook)] if wrap else hook
    try:
        process = subprocess.Popen(command, cwd=REPO, env=env, pass_fds=(read_end,), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.close(read_end)
    with os.fdopen(write_end, "wb") as pipe, open(HOOK_STREAM, "rb") as stream:
        pipe.write(stream.read())
    return process


def run_hook(settings, root, wrap=()):
    """start_hook, and wait for the hook to end (at most 120 s)."""
    process = start_hook(settings, root, wrap)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def named_snapshots(image):
    """The Cinder snapshot ids an image's block_device_mapping names (the test's own reading)."""
    import json
    return [entry["snapshot_id"] for entry in json.loads(image.get("block_device_mapping") or "[]")
            if entry.get("snapshot_id")]


def random_uuid():
    return str(uuid.uuid4())
