"""A real Debian guest under Nova's libvirt driver (QEMU, TCG) on the local cloud: the backup
holds the disk as it was, and restoring it brings that disk back.

The local cloud runs the guest when started with MINICLOUD_COMPUTE=libvirt (make check does; see
minicloud/libvirt.md). The test drives the guest through its agent with virsh; the product never
does. The guest has no network device."""

import json
import os
import subprocess
import time
import uuid

import pytest

from cloud_fixtures import STATE, read_state
from guest_agent import Guest, domain_of


def guest_env():
    values = {}
    path = os.path.join(STATE, "env.libvirt")
    if os.path.exists(path):
        for line in read_state("env.libvirt").splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                values[key] = value
    return values


@pytest.fixture(scope="module")
def real(minicloud):
    env = guest_env()
    running = os.path.exists(os.path.join(STATE, "run", "nova-compute-libvirt.pid"))
    if not env.get("MINICLOUD_GUEST_SERVER_ID") or not running:
        if os.environ.get("NSH_REQUIRE_GUEST") == "1":
            pytest.fail("the local cloud runs no real guest; start it with "
                        "MINICLOUD_COMPUTE=libvirt minicloud/up")
        pytest.skip("no real guest: MINICLOUD_COMPUTE=libvirt minicloud/up starts one")
    guest = Guest(env["MINICLOUD_LIBVIRT_URI"],
                  domain_of(env["MINICLOUD_LIBVIRT_URI"], env["MINICLOUD_GUEST_SERVER_ID"]))
    guest.server, guest.image = env["MINICLOUD_GUEST_SERVER_ID"], env["MINICLOUD_GUEST_IMAGE_ID"]
    guest.wait_agent()
    return guest


@pytest.fixture
def on_guest(tool, real, admin):
    """The tool configured as the real guest, whose backups are deleted before and after."""
    tool.write_settings(server=real.server)

    def clean():
        """Every backup of the guest but the image it runs from (after a rebuild, a backup):
        Nova and check read its properties."""
        admin.wait_idle(real.server, timeout=300)
        running = (admin.nova.servers.get(real.server).image or {}).get("id")
        for image in admin.images(instance_uuid=real.server):
            if image["id"] == running:
                continue
            if image.get("protected"):
                admin.glance.patch(f"/v2/images/{image['id']}", json=[
                    {"op": "replace", "path": "/protected", "value": False}],
                    headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
            admin.glance.delete(f"/v2/images/{image['id']}")

    clean()
    yield tool
    clean()


def backup(tool, series, rotation, *extra):
    time.sleep(1.1)                               # Glance's created_at has 1 s resolution
    result = tool("snapshot", series, str(rotation), "--json", *extra, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_image_active(admin, image_id, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        image = admin.glance.get(f"/v2/images/{image_id}").json()
        if image["status"] == "active":
            return image
        time.sleep(0.5)
    raise AssertionError(f"image {image_id} is still {image['status']}")


def test_the_restored_disk_holds_the_data_of_the_backup(on_guest, real, admin):
    old, removed = f"before-{uuid.uuid4()}", "/root/kept-by-the-backup"
    code, _ = real.sh(f"echo {old} > /root/marker && echo here > {removed} && sync")
    assert code == 0
    made = backup(on_guest, "proof", 3)
    assert made["state"] == "captured" and made["method"] == "createBackup"
    real.sh(f"echo after > /root/marker && rm -f {removed} && sync")
    assert real.read("/root/marker") == "after" and real.read(removed) == "MISSING"
    image = wait_image_active(admin, made["image_id"])
    assert image["size"] > 10 * 2 ** 20          # a real disk, not the fake driver's 6000 bytes

    rebuilt = on_guest("restore", made["image_id"], "--rebuild", "--yes", "--timeout", "600",
                       timeout=700)
    assert rebuilt.returncode == 0, rebuilt.stderr
    real.wait_agent()
    assert real.read("/root/marker") == old
    assert real.read(removed) == "here"

    new_name = f"restored-{uuid.uuid4().hex[:8]}"
    booted = on_guest("restore", made["image_id"], "--new", new_name, "--no-network",
                      "--timeout", "600", timeout=700)
    new = [s for s in admin.nova.servers.list() if s.name == new_name]
    try:
        assert booted.returncode == 0, booted.stderr
        assert len(new) == 1 and new[0].status == "ACTIVE"
        copy = Guest(real.uri, domain_of(real.uri, new[0].id))
        copy.wait_agent()
        assert copy.read("/root/marker") == old and copy.read(removed) == "here"
        assert "<interface" not in copy.xml()     # no network device in any test guest
    finally:
        for server in new:
            server.delete()


def test_snapshot_scheduled_and_rotation_of_real_images(on_guest, real, admin):
    made = [backup(on_guest, "realrot", 2, "--wait", "active") for _ in range(3)]
    admin.wait_idle(real.server, timeout=300)
    time.sleep(1)                                 # Nova rotates right after task_state is reset
    kept = sorted(i["id"] for i in admin.backups(real.server, "realrot"))
    assert kept == sorted(m["image_id"] for m in made[1:])
    scheduled = on_guest("scheduled", "--no-delay", timeout=600)
    assert scheduled.returncode == 0, scheduled.stderr
    tier = [i for i in admin.images(instance_uuid=real.server) if i.get("nsh_trigger") == "schedule"]
    assert len(tier) == 1 and tier[0]["backup_type"] in ("daily", "weekly", "monthly", "yearly")
    listed = on_guest("list")
    assert listed.returncode == 0 and "realrot" in listed.stdout
    assert tier[0]["backup_type"] in listed.stdout


def as_inside_the_guest(tmp_path):
    """The tool's identity_root (cloud_fixtures) made to look like the guest's own /: the
    agent's port and its process, as the guest has them."""
    root = tmp_path / "root"
    (root / "dev" / "virtio-ports").mkdir(parents=True)
    (root / "dev" / "virtio-ports" / "org.qemu.guest_agent.0").write_text("")
    (root / "proc" / "300").mkdir(parents=True)
    (root / "proc" / "300" / "comm").write_text("qemu-ga\n")


def quiesce_line(tool):
    return [line for line in tool("check").stdout.splitlines() if ": quiesce: " in line][0]


def test_nova_freezes_the_guest_for_the_snapshot(on_guest, real, admin, tmp_path):
    """hw_qemu_guest_agent=yes: the agent's channel is in the domain and the agent logs a
    freeze (and thaw) for each snapshot; check's report and the backup's nsh_quiesce agree."""
    assert "org.qemu.guest_agent.0" in real.xml()
    as_inside_the_guest(tmp_path)
    assert quiesce_line(on_guest).startswith("OK: quiesce: image hw_qemu_guest_agent=yes")
    before = real.freeze_count()
    made = backup(on_guest, "quiesce", 1)
    assert real.freeze_count() > before
    assert admin.glance.get(f"/v2/images/{made['image_id']}").json()["nsh_quiesce"] == "agent"


def test_without_the_agent_property_no_freeze_is_possible(on_guest, real, admin):
    """A server booted from a copy of the image without hw_qemu_guest_agent has no agent channel
    at all, so Nova cannot freeze it; its snapshot is crash-consistent and still succeeds."""
    made = backup(on_guest, "noagent", 1, "--wait", "active")
    admin.glance.patch(f"/v2/images/{made['image_id']}",
                       json=[{"op": "remove", "path": "/hw_qemu_guest_agent"}],
                       headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
    name = f"noagent-{uuid.uuid4().hex[:8]}"
    booted = on_guest("restore", made["image_id"], "--new", name, "--no-network", timeout=700)
    new = [s for s in admin.nova.servers.list() if s.name == name]
    try:
        assert booted.returncode == 0, booted.stderr
        xml = Guest(real.uri, domain_of(real.uri, new[0].id)).xml()
        assert "org.qemu.guest_agent.0" not in xml
        on_guest.write_settings(server=new[0].id)
        line = quiesce_line(on_guest)           # the image no longer asks for the agent
        assert line.startswith("WARN: quiesce: image hw_qemu_guest_agent=no")
        assert "crash-consistent" in line
        result = on_guest("snapshot", "noagent", "1", "--json", timeout=600)
        assert result.returncode == 0, result.stderr
    finally:
        for server in new:
            server.delete()
        on_guest.write_settings(server=real.server)


def test_a_shut_off_guest_gets_a_cold_snapshot(on_guest, real, admin):
    admin.nova.servers.stop(real.server)
    wait_status(admin, real.server, "SHUTOFF")
    try:
        made = backup(on_guest, "cold", 1, "--wait", "active")
        assert made["state"] == "active"
        assert admin.glance.get(f"/v2/images/{made['image_id']}").json()["size"] > 2 ** 20
    finally:
        # Glance says active a moment before Nova ends the task; start is refused until then
        admin.wait_idle(real.server, timeout=300)
        admin.nova.servers.start(real.server)
        wait_status(admin, real.server, "ACTIVE")
        real.wait_agent()


def test_a_capture_that_outlasts_the_wait_is_marked_and_still_completes(on_guest, real, admin):
    """A short wait on a real, slower snapshot: one ERROR line, exit 1, the image marked
    not-guaranteed, and Nova finishes it anyway."""
    real.sh("dd if=/dev/urandom of=/root/bulk bs=1M count=300 status=none && sync", timeout=300)
    try:
        result = on_guest("snapshot", "slow", "1", "--timeout", "2", "--json", timeout=300)
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
        assert len(errors) == 1 and "not captured before the deadline" in errors[0], result.stderr
        image = [i for i in admin.images(instance_uuid=real.server) if i.get("nsh_series") == "slow"]
        assert len(image) == 1 and image[0]["nsh_capture"] == "not-guaranteed"
        assert wait_image_active(admin, image[0]["id"])["size"] > 300 * 2 ** 20 // 2
    finally:
        real.sh("rm -f /root/bulk && sync")


def wait_status(admin, server_id, status, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        server = admin.nova.servers.get(server_id)
        if server.status == status and getattr(server, "OS-EXT-STS:task_state") is None:
            return
        time.sleep(1)
    raise AssertionError(f"server {server_id} did not reach {status}")


def test_the_guest_has_no_network_device(real):
    assert "<interface" not in real.xml()
    nets = subprocess.run(["virsh", "-c", real.uri, "net-list", "--all", "--name"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert nets == []
