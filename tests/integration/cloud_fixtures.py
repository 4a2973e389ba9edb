"""Integration tests: the real CLI against the local cloud (minicloud/up), no faked HTTP.

`make check` starts the cloud and sets NSH_REQUIRE_CLOUD=1, so a missing cloud fails these tests
instead of skipping them.
"""

import functools
import os
import sys
import time
import uuid

import pytest

from runners import REPO, run_cli, start_cli

sys.path.append(os.path.join(REPO, "minicloud"))
# The local cloud's state files, shared with the benchmarks; the tests import them from here.
from minicloud_state import STATE, openrc_vars, read_state  # noqa: E402


def env_file_vars():
    """KEY=value lines of $STATE/env; {} when it is missing."""
    try:
        text = read_state("env")
    except FileNotFoundError:
        return {}
    return {key: value for key, _, value in (line.partition("=") for line in text.splitlines())
            if key.startswith("MINICLOUD_")}


# Each pytest-xdist worker snapshots an image-backed server of its own (conftest.py, SHARED).
WORKER_SERVERS = ("server_id", "worker_server_id")


def worker_server_file():
    """The state file naming this test process's own image-backed server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker[2:]) if worker[:2] == "gw" and worker[2:].isdigit() else 0
    if number >= len(WORKER_SERVERS):
        pytest.fail(f"the local cloud has an image-backed server for {len(WORKER_SERVERS)} test "
                    f"workers, not for {worker}: run pytest -n {len(WORKER_SERVERS)} at most")
    return WORKER_SERVERS[number]


def worker_server():
    return read_state(worker_server_file())


@pytest.fixture(scope="session")
def minicloud():
    if not os.path.exists(os.path.join(STATE, worker_server_file())):
        if os.environ.get("NSH_REQUIRE_CLOUD") == "1":
            pytest.fail(f"the local cloud is not up ({STATE}); run minicloud/up")
        pytest.skip("the local cloud is not up; run minicloud/up (make check does)")
    env = env_file_vars()
    return {"server": worker_server(), "server2": read_state("server2_id"),
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
def control(minicloud):
    """The drivers' knobs (minicloud_controls.py), keyed to one server or volume so that the
    other worker's tests go on undisturbed: hold_seconds and fail_next act on this worker's
    server, volume_snapshot_* on the volume-backed server's root volume, unless `key` names
    another. Every file written is removed after the test."""
    directory = os.path.join(STATE, "control")
    os.makedirs(directory, exist_ok=True)
    written = []

    def put(name, value="1", key=None):
        key = key or (minicloud["bfv_volume"] if name.startswith("volume_") else
                      minicloud["server"])
        path = os.path.join(directory, f"{name}@{key}")
        with open(path, "w", encoding="ascii") as handle:
            handle.write(str(value))
        written.append(path)

    yield put
    for path in written:
        try:
            os.unlink(path)
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

    # run(*args, env=, timeout=, wrap=) and start(*args): tests/runners.py
    options = dict(root=state_root, settings=settings, credentials=credentials)
    run = functools.partial(run_cli, **options)
    run.start = functools.partial(start_cli, **options)
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


def named_snapshots(image):
    """The Cinder snapshot ids an image's block_device_mapping names (the test's own reading)."""
    import json
    return [entry["snapshot_id"] for entry in json.loads(image.get("block_device_mapping") or "[]")
            if entry.get("snapshot_id")]


def random_uuid():
    return str(uuid.uuid4())
