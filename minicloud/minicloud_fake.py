"""Nova's fake virt driver, with a snapshot that really reaches Glance.

Stock ``nova.virt.fake.FakeDriver.snapshot()`` only sets task_state to
image_uploading and never sends data, so every backup image stays ``queued``
for ever. ``MinicloudFakeDriver.snapshot()`` does what the libvirt driver
does instead: task_state image_pending_upload -> image_uploading, then one
Glance update with the metadata and a small payload (``purge_props=False``,
like libvirt's direct-snapshot path, so Nova's backup properties survive).
The image ends ``active``.

Two test controls, read from files at every snapshot call, so that tests
change the behaviour without restarting nova-compute (a restart makes this
driver forget its servers; see minicloud/README.md). Each acts on any server;
``<name>@<server id>`` acts on that server only, and wins over ``<name>``:

``$MINICLOUD_CONTROL_DIR/hold_seconds``
    A float. Sleep that long inside snapshot() before the upload starts,
    with task_state at image_pending_upload and the image ``queued``: a second
    createBackup meets 409 and a short client wait times out.
``$MINICLOUD_CONTROL_DIR/fail_next``
    If present, it is deleted and this snapshot fails the way a real driver
    failure does: an exception from the driver, so Nova deletes the new image,
    reverts task_state to None and records "Error" on the instance action.

nova-compute is eventlet-monkey-patched, so time.sleep() here is green.

Nova imports ``compute_driver`` only as ``nova.virt.<value>``; the
nova-compute wrapper that minicloud/up writes appends this directory to
``nova.virt.__path__`` so ``compute_driver = minicloud_fake.MinicloudFakeDriver``
resolves.
"""

import io
import time

from oslo_log import log as logging

from nova.compute import task_states
from nova import exception
from nova.image import glance
from nova.virt import fake

from . import minicloud_controls

LOG = logging.getLogger(__name__)

# Size of the fake disk image uploaded by every snapshot.
PAYLOAD_SIZE = 6000


class SimulatedSnapshotFailure(exception.NovaException):
    msg_fmt = ("minicloud fake driver: simulated snapshot failure "
               "(control file fail_next)")


def payload(instance, image_id):
    """A small raw 'disk': a readable header, padded to PAYLOAD_SIZE bytes.

    Unique per image, so checksums differ between backups.
    """
    header = ("minicloud fake disk of instance %s, image %s, taken %.6f\n"
              % (instance.uuid, image_id, time.time())).encode()
    return header + b"\0" * (PAYLOAD_SIZE - len(header))


class MinicloudFakeDriver(fake.FakeDriver):
    """FakeDriver whose snapshots upload data and can be held or failed."""

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self._image_api = glance.API()

    def snapshot(self, context, instance, image_id, update_task_state):
        if instance.uuid not in self.instances:
            # As libvirt does for a guest the hypervisor does not know.
            raise exception.InstanceNotRunning(instance_id=instance.uuid)

        snapshot = self._image_api.get(context, image_id)
        fail = minicloud_controls.take("fail_next", instance.uuid)
        hold = minicloud_controls.read_seconds("hold_seconds", instance.uuid)

        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        if hold:
            LOG.info("minicloud: holding snapshot %s for %.1fs (hold_seconds)",
                     image_id, hold, instance=instance)
            time.sleep(hold)

        update_task_state(task_state=task_states.IMAGE_UPLOADING,
                          expected_state=task_states.IMAGE_PENDING_UPLOAD)
        if fail:
            LOG.warning("minicloud: failing snapshot %s on request (fail_next)",
                        image_id, instance=instance)
            raise SimulatedSnapshotFailure()

        self._image_api.update(context, image_id,
                               self._snapshot_metadata(instance, snapshot),
                               io.BytesIO(payload(instance, image_id)),
                               purge_props=False)
        LOG.info("minicloud: snapshot image %s uploaded", image_id,
                 instance=instance)

    @staticmethod
    def _snapshot_metadata(instance, snapshot):
        """The metadata libvirt's _create_snapshot_metadata() sends."""
        properties = {
            "image_location": "snapshot",
            "image_state": "available",
            "owner_id": instance.project_id,
        }
        # libvirt sends these even when empty; Glance keeps '' as a value,
        # which is noise for a fake, so only pass real ones.
        for key in ("kernel_id", "ramdisk_id", "os_type"):
            value = getattr(instance, key, None)
            if value:
                properties[key] = value
        image_meta = instance.image_meta
        container = (image_meta.container_format
                     if image_meta.obj_attr_is_set("container_format")
                     else "bare")
        disk = (image_meta.disk_format
                if image_meta.obj_attr_is_set("disk_format") else "raw")
        return {
            "status": "active",
            "name": snapshot["name"],
            "disk_format": "ami" if disk == "ami" else "raw",
            "container_format": container,
            "properties": properties,
        }
