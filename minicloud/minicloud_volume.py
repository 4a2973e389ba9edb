"""Cinder volume driver of the minicloud: volumes are sparse files.

Every volume and snapshot is a sparse file under ``$MINICLOUD_STATE/cinder/volumes``
(``volume-<id>``, ``snapshot-<id>``), so they really exist and copies carry
their data: a volume made from an image holds the image's bytes, a snapshot
holds the volume's. Exports are no-ops and the connection info names the
file (``driver_volume_type: local``), which Nova's fake virt driver accepts
without looking at it.

Test controls, read from ``$MINICLOUD_CONTROL_DIR`` at every call, like the
fake Nova driver's (minicloud_fake.py), so tests need no restart; each acts on
any volume's snapshots, and ``<name>@<volume id>`` on that volume's only:

``volume_snapshot_hold_seconds``
    A float: create_snapshot sleeps that long first (snapshot ``creating``).
``volume_snapshot_fail_next``
    Consumed by the next create_snapshot, which then fails: ``error``.
``volume_snapshot_delete_fail_next``
    Consumed by the next delete_snapshot, which then fails: ``error_deleting``.

cinder-volume imports ``volume_driver`` by its dotted path; the cinder-volume
wrapper that minicloud/up writes appends this directory to
``cinder.volume.drivers.__path__``, so
``cinder.volume.drivers.minicloud_volume.MinicloudVolumeDriver`` resolves.
cinder-volume is eventlet-monkey-patched, so time.sleep() here is green.
"""

import errno
import os
import time

from oslo_log import log as logging

from cinder import exception
from cinder.volume import driver

from . import minicloud_controls

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
CHUNK = 1024 * 1024


def volumes_dir():
    return os.path.join(minicloud_controls.state_dir(), "cinder", "volumes")


def sparse_copy(src, dst, size):
    """Copy only src's data extents into a new dst of `size` bytes."""
    with open(src, "rb") as fin, open(dst + ".part", "wb") as fout:
        fd = fin.fileno()
        end = os.fstat(fd).st_size
        offset = 0
        while offset < end:
            try:
                data = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            fin.seek(data)
            fout.seek(data)
            left = hole - data
            while left > 0:
                chunk = fin.read(min(CHUNK, left))
                if not chunk:
                    break
                fout.write(chunk)
                left -= len(chunk)
            offset = hole
        fout.truncate(max(size, end))
    os.replace(dst + ".part", dst)


class SimulatedSnapshotFailure(exception.VolumeBackendAPIException):
    message = "minicloud volume driver: simulated failure (control file %(control)s)"


class MinicloudVolumeDriver(driver.VolumeDriver):
    """Volumes and snapshots as sparse files; no real export."""

    VERSION = "1.0.0"
    CI_WIKI_NAME = "minicloud"

    def _path(self, name):
        return os.path.join(volumes_dir(), name)

    # ---- service -----------------------------------------------------------

    def do_setup(self, context):
        os.makedirs(volumes_dir(), exist_ok=True)

    def check_for_setup_error(self):
        if not os.access(volumes_dir(), os.W_OK):
            raise exception.VolumeBackendAPIException(
                data="minicloud: %s is not writable" % volumes_dir())

    def _update_volume_stats(self):
        """Real free space of the state dir's file system, thin provisioned."""
        st = os.statvfs(volumes_dir())
        provisioned = 0
        for entry in os.scandir(volumes_dir()):
            if entry.name.startswith("volume-") and entry.is_file():
                provisioned += entry.stat().st_size
        name = self.configuration.safe_get("volume_backend_name") or "minicloud"
        self._stats = {
            "volume_backend_name": name,
            "vendor_name": "minicloud",
            "driver_version": self.VERSION,
            "storage_protocol": "local",
            "total_capacity_gb": round(st.f_blocks * st.f_frsize / GiB, 2),
            "free_capacity_gb": round(st.f_bavail * st.f_frsize / GiB, 2),
            "provisioned_capacity_gb": round(provisioned / GiB, 2),
            "reserved_percentage": 0,
            "thin_provisioning_support": True,
            "thick_provisioning_support": False,
            "max_over_subscription_ratio": 20.0,
            "multiattach": False,
            "QoS_support": False,
        }

    # ---- volumes -----------------------------------------------------------

    def create_volume(self, volume):
        with open(self._path(volume.name), "wb") as f:
            f.truncate(volume.size * GiB)

    def delete_volume(self, volume):
        try:
            os.unlink(self._path(volume.name))
        except FileNotFoundError:
            pass

    def create_cloned_volume(self, volume, src_vref):
        sparse_copy(self._path(src_vref.name), self._path(volume.name), volume.size * GiB)

    def create_volume_from_snapshot(self, volume, snapshot):
        sparse_copy(self._path(snapshot.name), self._path(volume.name), volume.size * GiB)

    def extend_volume(self, volume, new_size):
        with open(self._path(volume.name), "r+b") as f:
            f.truncate(new_size * GiB)

    def copy_image_to_volume(self, context, volume, image_service, image_id):
        """The image's bytes at the start of the volume (raw, as it is)."""
        path = self._path(volume.name)
        with open(path, "r+b") as f:
            image_service.download(context, image_id, f)
            if f.tell() > volume.size * GiB:
                raise exception.ImageUnacceptable(
                    image_id=image_id, reason="larger than the volume")
            f.truncate(volume.size * GiB)

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        if image_meta.get("disk_format", "raw") != "raw":
            raise exception.ImageUnacceptable(
                image_id=image_meta["id"],
                reason="minicloud uploads raw only, not %s" % image_meta["disk_format"])
        with open(self._path(volume.name), "rb") as f:
            image_service.update(context, image_meta["id"], {}, f)

    # ---- snapshots ---------------------------------------------------------

    def create_snapshot(self, snapshot):
        fail = minicloud_controls.take("volume_snapshot_fail_next", snapshot.volume_id)
        hold = minicloud_controls.read_seconds("volume_snapshot_hold_seconds",
                                               snapshot.volume_id)
        if hold:
            LOG.info("minicloud: holding snapshot %s for %.1fs", snapshot.id, hold)
            time.sleep(hold)
        if fail:
            LOG.warning("minicloud: failing snapshot %s on request", snapshot.id)
            raise SimulatedSnapshotFailure(control="volume_snapshot_fail_next")
        volume_path = self._path(snapshot.volume.name)
        sparse_copy(volume_path, self._path(snapshot.name), os.path.getsize(volume_path))

    def delete_snapshot(self, snapshot):
        if minicloud_controls.take("volume_snapshot_delete_fail_next", snapshot.volume_id):
            LOG.warning("minicloud: failing the delete of snapshot %s on request", snapshot.id)
            raise SimulatedSnapshotFailure(control="volume_snapshot_delete_fail_next")
        try:
            os.unlink(self._path(snapshot.name))
        except FileNotFoundError:
            pass

    # ---- export and connection: nothing to do for a file -------------------

    def create_export(self, context, volume, connector):
        return None

    def ensure_export(self, context, volume):
        return None

    def remove_export(self, context, volume):
        return None

    def initialize_connection(self, volume, connector):
        return {"driver_volume_type": "local",
                "data": {"device_path": self._path(volume.name)}}

    def terminate_connection(self, volume, connector, **kwargs):
        return None
