"""Deleting a backup: the one place that deletes our images, with their volume snapshots.

A volume-backed backup is a Glance image plus the Cinder snapshots its block_device_mapping names
(rules/volumes.py). The steps are ordered so that a failure half-way leaves nothing unaccounted
for: mark the image as being deleted, delete its snapshots, delete the image last. Until the last
step the image records what is left, and the next rotation or `prune` finishes the job.

The image is read again first: Glance checks `protected` only at the last step, after the
snapshots are gone, so a pin or restore since the caller's listing must be seen before. The
mapping is anyone's with image PATCH: only the snapshots Cinder says are of the server's own
volumes are deleted; anything else it names is left, with a warning.
"""

import time

from ..errors import CloudError
from ..log import log
from ..rules import naming, volumes


def delete_backup(cloud, image, server_id, volume_ids, new=False):
    """Delete one of our images of `server_id` and the volume snapshots of it that are the
    server's; raises CloudError when a step fails (what is left is then marked on the image, for
    the next run).

    `image` is as the caller listed it and chose it; `volume_ids` are the volumes attached to the
    server as Nova lists them, None when unknown (then only our marks tell its snapshots).
    `new`: the image this run requested, ours by Nova's answer whatever its failure left of it.
    Returns the snapshot ids deleted, or None when the image was left alone (one line says why)."""
    image_id = image["id"]
    now = cloud.get_image(image_id)
    why = changed(image, now, server_id, new)
    if why:
        (log.info if now is None else log.warning)(
            f"Not deleting backup image {image.get('name')} ({image_id}): {why}.")
        return None
    for rejected in volumes.rejected_snapshot_ids(now):
        log.warning(f"Backup image {now.get('name')} ({image_id}) names volume snapshot "
                    f"{_shown(rejected)}, which is not a snapshot id: ignored, never deleted.")
    snapshot_ids = volumes.snapshot_ids(now)
    doomed = []
    if snapshot_ids:
        listed = {snapshot.get("id"): snapshot for snapshot in cloud.volume_snapshots()}
        doomed, refused = volumes.deletable(snapshot_ids, listed, image_id, server_id, volume_ids)
        for snapshot_id, reason in refused:
            log.warning(f"Not deleting volume snapshot {snapshot_id}, named by backup image "
                        f"{now.get('name')} ({image_id}): {reason}. If it is a leftover of "
                        "this backup, delete it by hand (openstack volume snapshot delete).")
    if doomed and not volumes.being_deleted(now):
        cloud.set_image_properties(image_id, {
            volumes.DELETING_PROPERTY: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    for snapshot_id in doomed:
        cloud.delete_volume_snapshot(snapshot_id)
    cloud.delete_image(image_id)
    return doomed


def changed(listed, now, server_id, new=False):
    """Why the image as Glance has it `now` must not be deleted after all (None: it may be).
    The caller chose `listed` as surplus of its series, by its status; `new` (our own failed
    request) is ours whatever its properties and status say."""
    if now is None:
        return "it no longer exists"
    if now.get("id") != listed.get("id"):
        return f"Glance answered with image {now.get('id')}"
    if now.get("protected"):
        return "it is protected now (pinned, or a restore uses it)"
    if new:
        return None
    series = listed.get(naming.SERIES_PROPERTY)
    if not naming.is_ours(now, server_id, series):
        return f"it is no longer a backup of ours of server {server_id} in series {series}"
    if not volumes.being_deleted(listed) and now.get("status") != listed.get("status"):
        return f"its status changed from {listed.get('status')} to {now.get('status')}"
    return None


def _shown(value):
    """A value read from the cloud, quoted and cut: it may hold anything, escapes included."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def delete_orphans(cloud, server_id, images, volume_ids):
    """Delete our marked snapshots of this server that no image in `images` (every image of the
    server) names any more (`volume_ids` as in delete_backup). Returns the ids asked to be
    deleted."""
    deleted = []
    for snapshot in volumes.orphans(cloud.volume_snapshots(), images, server_id):
        mark = snapshot["metadata"][volumes.IMAGE_MARK]
        why = volumes.not_of_server(snapshot, volume_ids, server_id)
        if why:     # seen at every run: the warning was given when its backup was deleted
            log.info(f"Leaving volume snapshot {snapshot['id']} alone: it is marked as part of "
                     f"backup image {mark}, which is gone, but {why}.")
            continue
        log.info(f"Deleting volume snapshot {snapshot['id']}: it belonged to backup image "
                 f"{mark}, which is gone.")
        cloud.delete_volume_snapshot(snapshot["id"])
        deleted.append(snapshot["id"])
    return deleted


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
