"""A boot-from-volume server against the real Cinder of the local cloud: createImage makes an
image plus a Cinder snapshot of each volume, and the tool treats the two as one backup. Rotation,
failures, the quota, restore, and Cinder faults; nothing leaked, nothing of others touched."""

import json
import time

import pytest
from keystoneauth1 import adapter, session
from keystoneauth1.identity import v3

from cloud_fixtures import STATE, named_snapshots, openrc_vars, read_state, through

SERIES = "bfvtest"
SNAPSHOT_LIST = r"^/block-storage/v3/(\w+/)?snapshots/detail"
SNAPSHOT_DELETE = r"^/block-storage/v3/(\w+/)?snapshots/[0-9a-f-]+$"


def env_value(key):
    for line in read_state("env").splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1]
    pytest.fail(f"{key} is not in {STATE}/env: the local cloud has no volume-backed server")


def user_session(openrc):
    env = openrc_vars(openrc)
    return session.Session(auth=v3.Password(
        auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
        project_name=env["OS_PROJECT_NAME"], user_domain_name="Default",
        project_domain_name="Default"))


class Cinder:
    """The test's own look at Cinder, as the demo user (and admin for the quota)."""

    def __init__(self):
        self.demo = user_session("openrc")
        self.api = adapter.Adapter(self.demo, service_type="block-storage", interface="public")
        self.admin = adapter.Adapter(user_session("admin-openrc"), service_type="block-storage",
                                     interface="public")
        self.project = self.demo.get_project_id()

    def snapshots(self, volume_id=None):
        listed = self.api.get("/snapshots/detail").json()["snapshots"]
        return [s for s in listed if volume_id is None or s["volume_id"] == volume_id]

    def wait_settled(self, volume_id, timeout=60):
        """Until no snapshot of the volume is creating or deleting; returns them."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.snapshots(volume_id)
            if not any(s["status"] in ("creating", "deleting") for s in found):
                return found
            time.sleep(0.3)
        raise AssertionError(f"snapshots of {volume_id} did not settle: {found}")

    def delete_snapshot(self, snapshot_id):
        self.api.delete(f"/snapshots/{snapshot_id}", raise_exc=False)

    def set_snapshot_quota(self, count):
        self.admin.put(f"/os-quota-sets/{self.project}",
                       json={"quota_set": {"snapshots": count}})

    def limits(self):
        return self.api.get("/limits").json()["limits"]["absolute"]


@pytest.fixture(scope="module")
def cinder(minicloud):
    return Cinder()


@pytest.fixture
def bfv(tool, admin, cinder, minicloud):
    """The tool configured as the volume-backed server, which has no images and no snapshots of
    its root volume but one someone else made ("snapshot for ..." like Nova's, not ours)."""
    server, volume = env_value("MINICLOUD_BFV_SERVER_ID"), env_value("MINICLOUD_BFV_VOLUME_ID")

    def clean():
        admin.wait_idle(server)
        for image in admin.images(nsh_server=server):    # Nova sets no instance_uuid on these
            if image.get("protected"):
                admin.glance.patch(f"/v2/images/{image['id']}", json=[
                    {"op": "replace", "path": "/protected", "value": False}],
                    headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})
            admin.glance.delete(f"/v2/images/{image['id']}")
        for snap in cinder.wait_settled(volume):
            cinder.delete_snapshot(snap["id"])
        cinder.wait_settled(volume)

    clean()
    foreign = cinder.api.post("/snapshots", json={"snapshot": {
        "volume_id": volume, "force": True, "name": f"snapshot for vm-{SERIES}-foreign"}}).json()
    cinder.wait_settled(volume)
    tool.write_settings(server=server)
    tool.server, tool.volume, tool.foreign = server, volume, foreign["snapshot"]["id"]
    yield tool
    cinder.set_snapshot_quota(10)
    clean()


def snapshot(tool, *args, rotation=2):
    """createImage and our own rotation, which orders the backups of one second by their
    nsh_requested: no spacing needed."""
    result = tool("snapshot", SERIES, str(rotation), "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def lines(result, level):
    return [line for line in (result.stdout + result.stderr).splitlines()
            if line.startswith(level + ":")]


def test_three_backups_with_rotation_2_keep_two_images_and_exactly_their_snapshots(bfv, admin,
                                                                                  cinder):
    made = [snapshot(bfv) for _ in range(3)]
    assert all(r["method"] == "createImage" and r["state"] in ("captured", "active") for r in made)
    images = admin.images(nsh_server=bfv.server)
    assert sorted(i["id"] for i in images) == sorted(r["image_id"] for r in made[1:])
    snaps = {s["id"]: s for s in cinder.wait_settled(bfv.volume)}
    named = {sid for image in images for sid in named_snapshots(image)}
    assert len(named) == 2 and set(snaps) == named | {bfv.foreign}    # zero leaked
    assert snaps[bfv.foreign]["status"] == "available"                 # the other one untouched
    for image in images:                       # each captured snapshot carries our marks
        for sid in named_snapshots(image):
            assert snaps[sid]["metadata"] == {"nsh_image": image["id"], "nsh_server": bfv.server}
            assert snaps[sid]["status"] == "available"
    listed = bfv("list")
    assert listed.returncode == 0, listed.stderr
    for sid in named:
        assert f"volume snapshot {sid} available, 1 GB" in listed.stdout
    assert "Kept in series bfvtest: 2 image(s), 0 B + 2 GB volume snapshots." in listed.stdout
    shown = bfv("show", made[-1]["image_id"])
    assert "volume snapshot" in shown.stdout and "available" in shown.stdout


def test_a_failed_volume_snapshot_leaves_no_image_and_no_snapshot(bfv, admin, cinder, control):
    control("volume_snapshot_fail_next")
    result = bfv("snapshot", SERIES, "2")
    assert result.returncode == 1
    errors = lines(result, "ERROR")
    assert len(errors) == 1 and "volume snapshot" in errors[0] and "'error'" in errors[0], \
        result.stderr
    assert "deleted with its 1 volume snapshot" in errors[0]
    assert admin.images(nsh_server=bfv.server) == []
    assert [s["id"] for s in cinder.wait_settled(bfv.volume)] == [bfv.foreign]


def test_an_exhausted_snapshot_quota_gives_one_line_and_sends_nothing(bfv, admin, cinder):
    cinder.set_snapshot_quota(cinder.limits()["totalSnapshotsUsed"])
    result = bfv("snapshot", SERIES, "2")
    assert result.returncode == 1
    errors = lines(result, "ERROR")
    assert len(errors) == 1 and "maxTotalSnapshots" in errors[0] and "in use" in errors[0], \
        result.stderr
    assert admin.images(nsh_server=bfv.server) == []
    assert [s["id"] for s in cinder.wait_settled(bfv.volume)] == [bfv.foreign]
    checked = bfv("check")
    assert any(line.startswith("OK: volumes: boots from a volume")
               for line in checked.stdout.splitlines()), checked.stdout


def test_check_reports_the_volumes_and_the_quota_headroom(bfv):
    checked = bfv("check")
    out = checked.stdout.splitlines()
    assert any(line.startswith("OK: volumes: boots from a volume; 1 attached") for line in out), out
    quota = [line for line in out if ": volume quota: " in line]
    assert len(quota) == 1 and "snapshots" in quota[0] and "rotations" in quota[0], out
    # the defaults keep 5 apt and 7, 4, 12, 2 scheduled backups, and 1 being made: over 10 snapshots
    assert quota[0].startswith("WARN: "), quota


def test_restore_new_boots_a_server_whose_root_volume_comes_from_our_snapshot(bfv, admin, cinder):
    image_id = snapshot(bfv)["image_id"]
    image = admin.glance.get(f"/v2/images/{image_id}").json()
    ours = named_snapshots(image)
    refused = bfv("restore", image_id, "--rebuild", "--yes")
    assert refused.returncode == 2 and "--new" in refused.stderr, refused.stderr
    result = bfv("restore", image_id, "--new", "restored-bfv", "--no-network", timeout=300)
    new_id = None
    try:
        assert result.returncode == 0, result.stderr
        new = [s for s in admin.nova.servers.list() if s.name == "restored-bfv"]
        assert len(new) == 1 and new[0].status == "ACTIVE"
        new_id = new[0].id
        attached = getattr(new[0], "os-extended-volumes:volumes_attached")
        root = cinder.api.get(f"/volumes/{attached[0]['id']}").json()["volume"]
        assert root["snapshot_id"] in ours
    finally:
        for server in admin.nova.servers.list():
            if server.name == "restored-bfv":
                server.delete()
        wait_gone(admin, new_id)
        for volume in cinder.api.get("/volumes/detail").json()["volumes"]:
            if volume.get("snapshot_id") in ours and volume["status"] == "available":
                cinder.api.delete(f"/volumes/{volume['id']}")
        wait_no_volume_from(cinder, ours)


def wait_gone(admin, server_id, timeout=60):
    end = time.monotonic() + timeout
    while server_id and time.monotonic() < end:
        if all(s.id != server_id for s in admin.nova.servers.list()):
            return
        time.sleep(0.5)


def wait_no_volume_from(cinder, snapshot_ids, timeout=60):
    """Volumes made from our snapshots keep them alive; the fixture's cleanup needs them gone."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = [v for v in cinder.api.get("/volumes/detail").json()["volumes"]
                if v.get("snapshot_id") in snapshot_ids]
        if not left:
            return
        for volume in left:
            if volume["status"] in ("available", "error"):
                cinder.api.delete(f"/volumes/{volume['id']}", raise_exc=False)
        time.sleep(0.5)


# -- Cinder faults --------------------------------------------------------------------------------
@pytest.fixture
def faulty_bfv(bfv, proxy, tmp_path):
    through(proxy, bfv)
    bfv.settings.write_text(bfv.settings.read_text().replace(
        "[snapshot]\n", f"[cloud]\ncredentials = {bfv.credentials}\napi_timeout = 5\n[snapshot]\n"))
    yield bfv
    proxy.clear()


@pytest.mark.parametrize("fault", ["500", "hang"])
def test_a_failing_snapshot_list_still_makes_the_backup_with_one_warning(faulty_bfv, proxy,
                                                                         admin, cinder, fault):
    rule = proxy.add("GET", SNAPSHOT_LIST, fault, times=1)
    result = faulty_bfv("snapshot", SERIES, "2")
    assert result.returncode == 0, result.stderr
    warnings = lines(result, "WARNING")
    assert len(warnings) == 1 and "volume snapshots could not be read" in warnings[0], \
        result.stdout + result.stderr
    assert rule.hits == 1
    images = admin.images(nsh_server=faulty_bfv.server)
    assert len(images) == 1
    snaps = {s["id"]: s for s in cinder.wait_settled(faulty_bfv.volume)}
    assert set(named_snapshots(images[0])) <= set(snaps)


@pytest.mark.parametrize("fault", ["500", "hang"])
def test_a_failing_snapshot_delete_keeps_the_record_and_the_next_run_cleans_up(faulty_bfv, proxy,
                                                                               admin, cinder,
                                                                               fault):
    first = snapshot(faulty_bfv, rotation=1)["image_id"]
    first_snaps = named_snapshots(admin.glance.get(f"/v2/images/{first}").json())
    rule = proxy.add("DELETE", SNAPSHOT_DELETE, fault, times=1)
    second = faulty_bfv("snapshot", SERIES, "1", "--json")
    assert second.returncode == 0, second.stderr
    warnings = lines(second, "WARNING")
    assert len(warnings) == 1 and "rotating the series" in warnings[0], second.stderr
    assert rule.hits == 1
    kept = admin.glance.get(f"/v2/images/{first}").json()      # the record of what is left
    assert kept["nsh_deleting"] and set(named_snapshots(kept)) <= {
        s["id"] for s in cinder.wait_settled(faulty_bfv.volume)}
    listed = faulty_bfv("list")
    assert any(first in line and "D" in line for line in listed.stdout.splitlines())
    third = snapshot(faulty_bfv, rotation=1)["image_id"]       # no fault: the next run cleans up
    ids = [i["id"] for i in admin.images(nsh_server=faulty_bfv.server)]
    assert ids == [third]                        # the half-deleted first, and the second's turn
    left = {s["id"] for s in cinder.wait_settled(faulty_bfv.volume)}
    assert not set(first_snaps) & left and faulty_bfv.foreign in left


def test_prune_finds_and_deletes_our_orphaned_snapshots_only(bfv, admin, cinder):
    image_id = snapshot(bfv)["image_id"]
    orphan = named_snapshots(admin.glance.get(f"/v2/images/{image_id}").json())
    admin.glance.delete(f"/v2/images/{image_id}")        # someone deletes the image alone
    dry = bfv("prune")
    assert dry.returncode == 0 and f"volume snapshot {orphan[0]}" in dry.stdout, dry.stdout
    assert {s["id"] for s in cinder.wait_settled(bfv.volume)} == {orphan[0], bfv.foreign}
    done = bfv("prune", "--delete")
    assert done.returncode == 0, done.stderr
    assert [s["id"] for s in cinder.wait_settled(bfv.volume)] == [bfv.foreign]
