"""A volume-backed backup and its Cinder snapshots. Pure, no I/O.

createImage of a boot-from-volume server makes a zero-size Glance image whose
`block_device_mapping` property names one Cinder snapshot per attached volume (doc/nova-backup-api.md,
Volume-backed servers). Those snapshots are part of the backup:
- captured means the image exists and every snapshot it names is `available`; one in `error` is a
  failed backup;
- a snapshot is ours when one of our images names it, or when it carries our marks (set once it is
  captured) -- never because of its name alone;
- deleting a backup deletes its snapshots first and the image last, after marking the image as
  being deleted: the image stays the record of what is left until the last step is done.
"""

import json

from .capture import CAPTURED, FAILED, PENDING
from .naming import PREFIX

DELETING_PROPERTY = PREFIX + "deleting"     # on an image whose deletion has begun
IMAGE_MARK, SERVER_MARK = PREFIX + "image", PREFIX + "server"   # on our snapshots' metadata
UNLIMITED = -1


def snapshot_ids(image):
    """The ids of the Cinder snapshots the image's block_device_mapping names, in its order."""
    mapping = (image or {}).get("block_device_mapping")
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except ValueError:
            return []
    if not isinstance(mapping, list):
        return []
    ids = [entry.get("snapshot_id") for entry in mapping if isinstance(entry, dict)]
    return [sid for sid in dict.fromkeys(ids) if isinstance(sid, str) and sid]


def is_volume_backed(server):
    """A server (GET /servers/{id} as a dict) that boots from a volume has no image."""
    return not server.get("image") and bool(attached_volume_ids(server))


def attached_volume_ids(server):
    return [volume.get("id") for volume in server.get("os-extended-volumes:volumes_attached") or []
            if isinstance(volume, dict) and volume.get("id")]


def being_deleted(image):
    return bool((image or {}).get(DELETING_PROPERTY))


def snapshots_state(ids, snapshots):
    """(state, reason) of an image's snapshots; `snapshots` maps id -> Cinder's snapshot dict."""
    waiting = []
    for sid in ids:
        snapshot = snapshots.get(sid)
        status = (snapshot or {}).get("status")
        if snapshot is None:
            return FAILED, f"volume snapshot {sid} no longer exists"
        if status in ("error", "error_deleting", "deleting", "deleted"):
            return FAILED, f"volume snapshot {sid} is in status '{status}'"
        if status != "available":
            waiting.append(f"{sid} {status or 'unknown'}")
    if waiting:
        return PENDING, "volume snapshot " + ", ".join(waiting)
    return CAPTURED, f"{len(ids)} volume snapshot(s) available"


def our_marks(image_id, server_id):
    return {IMAGE_MARK: image_id, SERVER_MARK: server_id}


def orphans(snapshots, images, server_id):
    """Our snapshots of this server that no existing image names: left by a deletion that
    stopped half-way, or by an image deleted without its snapshots. Only marked ones count."""
    named = {sid for image in images for sid in snapshot_ids(image)}
    alive = {image.get("id") for image in images}
    found = []
    for snapshot in snapshots:
        marks = snapshot.get("metadata") or {}
        if marks.get(SERVER_MARK) != server_id or not marks.get(IMAGE_MARK):
            continue
        if snapshot.get("status") == "deleting":     # asked before; Cinder is on it
            continue
        if snapshot.get("id") in named or marks[IMAGE_MARK] in alive:
            continue
        found.append(snapshot)
    return found


def backup_needs(volumes):
    """(snapshots, gigabytes) that one backup of a server with these volumes takes."""
    return len(volumes), sum(int(volume.get("size") or 0) for volume in volumes)


def quota_problems(limits, snapshots, gigabytes):
    """The quota lines that `snapshots` more snapshots of `gigabytes` in all would exceed.
    `limits` is Cinder's absolute limits (GET /limits); -1 is unlimited."""
    problems = []
    for what, unit, limit_key, used_key, need in (
            ("volume snapshots", "", "maxTotalSnapshots", "totalSnapshotsUsed", snapshots),
            ("volume gigabytes", " GB", "maxTotalVolumeGigabytes", "totalGigabytesUsed", gigabytes)):
        limit, used = limits.get(limit_key), limits.get(used_key)
        if not isinstance(limit, int) or not isinstance(used, int) or limit == UNLIMITED:
            continue
        if used + need > limit:
            problems.append(f"Cinder's {what} quota ({limit_key}) is {limit}{unit}, {used}{unit} "
                            f"in use, this backup needs {need}{unit} more")
    return problems


def headroom(limits, per_backup_snapshots, per_backup_gigabytes, kept_backups):
    """What the configured rotations take at most (each series keeps its count, plus one new
    backup while it is made) against the quota: [(what, need, limit)] for each quota reported."""
    rows = []
    for what, limit_key, each in (("snapshots", "maxTotalSnapshots", per_backup_snapshots),
                                  ("gigabytes", "maxTotalVolumeGigabytes", per_backup_gigabytes)):
        limit = limits.get(limit_key)
        if isinstance(limit, int):
            rows.append((what, each * kept_backups, limit))
    return rows


def snapshot_gigabytes(image):
    """The gigabytes of the volume snapshots the image names (Nova writes each volume's size
    into the mapping), without asking Cinder."""
    mapping = image.get("block_device_mapping")
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except ValueError:
            return 0
    return sum(int(entry.get("volume_size") or 0) for entry in mapping or ()
               if isinstance(entry, dict) and entry.get("snapshot_id")
               and str(entry.get("volume_size") or 0).isdigit())


def kept_size(images):
    """(bytes in Glance, gigabytes of volume snapshots) of the active images."""
    active = [image for image in images if image.get("status") == "active"
              and not being_deleted(image)]
    return (sum(int(image.get("size") or 0) for image in active),
            sum(snapshot_gigabytes(image) for image in active))
