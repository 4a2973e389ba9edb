"""Deleting a backup: the one place that deletes our images, with their volume snapshots.

A volume-backed backup is a Glance image plus the Cinder snapshots its block_device_mapping names
(rules/volumes.py). The steps are ordered so that a failure half-way leaves nothing unaccounted
for: mark the image as being deleted, delete its snapshots, delete the image last. Until the last
step the image records what is left, and the next rotation or `prune` finishes the job.
"""

import time

from ..errors import CloudError
from ..log import log
from ..rules import volumes


def delete_backup(cloud, image):
    """Delete one of our images and the volume snapshots it names; raises CloudError when a step
    fails (what is left is then marked on the image, for the next run)."""
    image_id = image["id"]
    snapshot_ids = volumes.snapshot_ids(image)
    if snapshot_ids and not volumes.being_deleted(image):
        cloud.set_image_properties(image_id, {
            volumes.DELETING_PROPERTY: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    for snapshot_id in snapshot_ids:
        cloud.delete_volume_snapshot(snapshot_id)
    cloud.delete_image(image_id)
    return snapshot_ids


def delete_orphans(cloud, server_id, images):
    """Delete our marked snapshots of this server that no image in `images` (every image of the
    server) names any more. Returns the ids asked to be deleted."""
    orphaned = volumes.orphans(cloud.volume_snapshots(), images, server_id)
    for snapshot in orphaned:
        log.info(f"Deleting volume snapshot {snapshot['id']}: it belonged to backup image "
                 f"{snapshot['metadata'][volumes.IMAGE_MARK]}, which is gone.")
        cloud.delete_volume_snapshot(snapshot["id"])
    return [snapshot["id"] for snapshot in orphaned]


def mark_snapshots(cloud, image_id, server_id, snapshot_ids):
    """Put our marks on a captured backup's snapshots, so that they are known as ours even if the
    image goes first. A failure is a warning: the image still names them."""
    for snapshot_id in snapshot_ids:
        try:
            cloud.mark_volume_snapshot(snapshot_id, volumes.our_marks(image_id, server_id))
        except CloudError as err:
            log.warning(f"could not mark volume snapshot {snapshot_id} as part of backup "
                        f"{image_id}: {err}")
            return
