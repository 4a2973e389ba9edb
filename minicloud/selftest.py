#!/usr/bin/python3
"""Check, against the running minicloud, the behaviour the project relies on.

As user demo (the $STATE/openrc file), novaclient at microversion 2.45, on
minicloud-vm ($STATE/server_id):

1. rotation: three createBackup calls with rotation 2, 1.1 s apart (Glance's
   created_at has 1 s resolution), leave exactly two `active` backups of that
   backup_type, the two newest;
2. hold: with control/hold_seconds set, a second createBackup meets 409 and a
   short wait for `active` times out; the held backup still finishes;
3. fail_next: the backup fails as a driver failure does; prints what a client
   sees (image, task_state, instance action);
4. createImage reaches `active`;
5. createImage of the volume-backed minicloud-bfv ($STATE/bfv_server_id) makes
   an image whose `block_device_mapping` names a Cinder snapshot that becomes
   `available`.

Prints what it sees, deletes the images it made, exits 1 on any mismatch.
Usage: selftest.py [--keep]   (--keep: leave the images in Glance)
"""

import argparse
import json
import os
import shlex
import sys
import time
import uuid

import glanceclient
from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exc
from glanceclient import exc as glance_exc
from keystoneauth1 import loading, session
from novaclient import client as nova_client
from novaclient import exceptions as nova_exc

STATE = os.path.abspath(os.environ.get("MINICLOUD_STATE") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".state", "minicloud"))
CONTROL = os.path.join(STATE, "control")
T0 = time.time()


def say(msg):
    print("[%6.2fs] %s" % (time.time() - T0, msg), flush=True)


def read_openrc(path):
    env = {}
    for line in open(path):
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export "):].strip().partition("=")
            env[key] = shlex.split(value)[0]
    return env


def demo_session():
    env = read_openrc(os.path.join(STATE, "openrc"))
    auth = loading.get_plugin_loader("v3password").load_from_options(
        auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"],
        password=env["OS_PASSWORD"], project_name=env["OS_PROJECT_NAME"],
        user_domain_name=env["OS_USER_DOMAIN_NAME"],
        project_domain_name=env["OS_PROJECT_DOMAIN_NAME"])
    return session.Session(auth=auth)


class SelfTest:
    def __init__(self):
        sess = demo_session()
        self.nova = nova_client.Client("2.45", session=sess, region_name="RegionOne")
        self.glance = glanceclient.Client("2", session=sess, region_name="RegionOne")
        self.cinder = cinder_client.Client("3.60", session=sess, region_name="RegionOne",
                                           service_type="block-storage")
        with open(os.path.join(STATE, "server_id")) as f:
            self.server_id = f.read().strip()
        with open(os.path.join(STATE, "bfv_server_id")) as f:
            self.bfv_server_id = f.read().strip()
        self.made = []
        self.made_snapshots = []
        self.failures = []
        self.tag = uuid.uuid4().hex[:8]

    def check(self, ok, what):
        say(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.failures.append(what)

    # ---- helpers -----------------------------------------------------------

    def task_state(self):
        return getattr(self.nova.servers.get(self.server_id), "OS-EXT-STS:task_state")

    def image_or_none(self, image_id):
        try:
            return self.glance.images.get(image_id)
        except glance_exc.HTTPNotFound:
            return None

    def wait_image(self, image_id, timeout, want=("active",)):
        """Status once it is in `want`, or gone; None/last status on timeout."""
        deadline = time.time() + timeout
        status = None
        while time.time() < deadline:
            image = self.image_or_none(image_id)
            status = image["status"] if image else "gone"
            if status in want or status in ("gone", "killed", "deleted"):
                return status
            time.sleep(0.1)
        return "timeout (%s)" % status

    def wait_task_none(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.task_state() is None:
                return True
            time.sleep(0.1)
        return False

    def backup(self, backup_type, rotation):
        name = "selftest-%s-%s" % (self.tag, backup_type)
        ret = self.nova.servers.backup(self.server_id, name, backup_type, rotation)
        image_id = ret["image_id"]
        self.made.append(image_id)
        return image_id, ret.request_ids[0]

    def backups_of(self, backup_type):
        return list(self.glance.images.list(filters={
            "instance_uuid": self.server_id, "image_type": "backup",
            "backup_type": backup_type}))

    # ---- the checks --------------------------------------------------------

    def rotation(self):
        btype = "rot-%s" % self.tag
        ids = []
        for i in range(3):
            if i:
                time.sleep(1.1)
            image_id, _ = self.backup(btype, 2)
            ids.append(image_id)
            status = self.wait_image(image_id, 30)
            say("backup %d: %s -> %s" % (i + 1, image_id, status))
            self.wait_task_none()
        # rotation runs after task_state is back to None: poll Glance
        deadline = time.time() + 15
        while time.time() < deadline:
            left = self.backups_of(btype)
            if len(left) <= 2:
                break
            time.sleep(0.1)
        active = sorted(i["id"] for i in left if i["status"] == "active")
        self.check(len(left) == 2 and active == sorted(ids[1:]),
                   "rotation 2 after 3 backups leaves the two newest, active "
                   "(left: %s)" % ["%s:%s" % (i["id"][:8], i["status"]) for i in left])
        image = self.glance.images.get(ids[-1])
        say("backup image properties: image_type=%s backup_type=%s instance_uuid=%s "
            "size=%s image_location=%s" % (image.get("image_type"), image.get("backup_type"),
                                           image.get("instance_uuid"), image.get("size"),
                                           image.get("image_location")))

    def hold(self):
        btype = "hold-%s" % self.tag
        with open(os.path.join(CONTROL, "hold_seconds"), "w") as f:
            f.write("5\n")
        try:
            image_id, _ = self.backup(btype, 5)
            states = set()
            conflict = None
            t = time.time()
            while time.time() - t < 1.0:
                states.add(self.task_state())
                time.sleep(0.05)
            try:
                self.backup(btype, 5)
            except nova_exc.Conflict as e:
                conflict = e
            self.check(conflict is not None, "second createBackup while held -> 409 (%s)"
                       % (str(conflict)[:110] if conflict else "no error"))
            short = self.wait_image(image_id, 1.0)
            self.check(short.startswith("timeout"),
                       "1 s wait for active times out while held: %s" % short)
            say("task_states seen while held: %s" % sorted(s or "None" for s in states))
        finally:
            os.unlink(os.path.join(CONTROL, "hold_seconds"))
        status = self.wait_image(image_id, 20)
        self.check(status == "active", "held backup finishes after the hold: %s" % status)
        self.wait_task_none()

    def fail_next(self):
        btype = "fail-%s" % self.tag
        open(os.path.join(CONTROL, "fail_next"), "w").close()
        image_id, request_id = self.backup(btype, 5)
        say("createBackup answered 202, image %s" % image_id)
        none = self.wait_task_none()
        status = self.wait_image(image_id, 10)
        action = self.nova.instance_action.get(self.server_id, request_id)
        self.check(none, "task_state back to None after the failure")
        self.check(status in ("gone", "killed"), "failed backup image: %s" % status)
        self.check(action.message == "Error",
                   "instance action %s (%s): message=%r" % (action.action, request_id,
                                                           action.message))
        self.check(not os.path.exists(os.path.join(CONTROL, "fail_next")),
                   "control file fail_next consumed")
        server = self.nova.servers.get(self.server_id)
        say("server after the failure: status=%s task_state=%s" % (
            server.status, getattr(server, "OS-EXT-STS:task_state")))

    def create_image(self):
        image_id = self.nova.servers.create_image(self.server_id,
                                                  "selftest-%s-snapshot" % self.tag)
        self.made.append(image_id)
        status = self.wait_image(image_id, 30)
        self.check(status == "active", "createImage %s -> %s" % (image_id, status))
        self.wait_task_none()

    def wait_snapshot(self, snapshot_id, timeout=30):
        deadline = time.time() + timeout
        status = None
        while time.time() < deadline:
            status = self.cinder.volume_snapshots.get(snapshot_id).status
            if status in ("available", "error"):
                return status
            time.sleep(0.1)
        return "timeout (%s)" % status

    def volume_backed_image(self):
        image_id = self.nova.servers.create_image(self.bfv_server_id,
                                                  "selftest-%s-bfv" % self.tag)
        self.made.append(image_id)
        status = self.wait_image(image_id, 30)
        image = self.glance.images.get(image_id)
        mappings = json.loads(image.get("block_device_mapping") or "[]")
        snapshots = [m["snapshot_id"] for m in mappings if m.get("snapshot_id")]
        self.made_snapshots.extend(snapshots)
        say("volume-backed image %s: status=%s size=%s bdm_v2=%s root_device_name=%s"
            % (image_id, status, image.get("size"), image.get("bdm_v2"),
               image.get("root_device_name")))
        self.check(status == "active" and len(snapshots) == 1,
                   "createImage of minicloud-bfv -> %s, snapshots in its "
                   "block_device_mapping: %s" % (status, snapshots))
        for snapshot_id in snapshots:
            self.check(self.wait_snapshot(snapshot_id) == "available",
                       "snapshot %s becomes available" % snapshot_id)
        self.wait_task_none_of(self.bfv_server_id)

    def wait_task_none_of(self, server_id, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if getattr(self.nova.servers.get(server_id), "OS-EXT-STS:task_state") is None:
                return True
            time.sleep(0.1)
        return False

    def dump_actions(self):
        """On a surprise: the server's recent instance actions, newest first."""
        try:
            actions = self.nova.instance_action.list(self.server_id)
        except Exception as e:
            say("cannot list instance actions: %s" % e)
            return
        for a in actions[:8]:
            say("  action %-14s %s start %s message %s" % (
                a.action, a.request_id, a.start_time, a.message))

    def cleanup(self):
        for image_id in self.made:
            try:
                self.glance.images.delete(image_id)
            except glance_exc.HTTPNotFound:
                pass
        # Glance does not delete a volume-backed image's snapshots
        for snapshot_id in self.made_snapshots:
            try:
                self.cinder.volume_snapshots.delete(snapshot_id)
            except cinder_exc.NotFound:
                pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the images")
    args = parser.parse_args()
    test = SelfTest()
    say("server %s, task_state %s" % (test.server_id, test.task_state()))
    try:
        for step in (test.rotation, test.hold, test.fail_next, test.create_image,
                     test.volume_backed_image):
            say("---- %s" % step.__name__)
            try:
                step()
            except Exception as e:
                test.failures.append("%s: %s: %s" % (step.__name__,
                                                     e.__class__.__name__, e))
                say("FAIL %s raised %s: %s" % (step.__name__, e.__class__.__name__, e))
                test.dump_actions()
                test.wait_task_none()
    finally:
        if not args.keep:
            test.cleanup()
    if test.failures:
        say("%d FAILED: %s" % (len(test.failures), "; ".join(test.failures)))
        return 1
    say("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
