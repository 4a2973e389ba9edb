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


def snapshot_entries(image):
    """The entries of the image's block_device_mapping (a JSON text in Glance) that name a
    Cinder snapshot; [] for any other image, or a mapping that cannot be read."""
    mapping = (image or {}).get("block_device_mapping")
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except ValueError:
            return []
    if not isinstance(mapping, list):
        return []
    return [entry for entry in mapping if isinstance(entry, dict)
            and isinstance(entry.get("snapshot_id"), str) and entry["snapshot_id"]]


def snapshot_ids(image):
    """The ids of the Cinder snapshots the image names, in its order."""
    return list(dict.fromkeys(entry["snapshot_id"] for entry in snapshot_entries(image)))


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


# Cinder's two quotas a backup takes from: (what, unit, limit key, use key) in GET /limits
QUOTAS = (("snapshots", "", "maxTotalSnapshots", "totalSnapshotsUsed"),
          ("gigabytes", " GB", "maxTotalVolumeGigabytes", "totalGigabytesUsed"))


def quota_rows(limits, needs, held=(0, 0)):
    """[(what, unit, limit key, limit, used, held, need)] for each quota Cinder reports a limit
    for; `needs` and `held` are (snapshots, gigabytes): what is asked for, and what of the use
    would be freed meanwhile (our rotated backups). -1 is unlimited."""
    rows = []
    for (what, unit, limit_key, used_key), need, mine in zip(QUOTAS, needs, held):
        limit, used = limits.get(limit_key), limits.get(used_key, 0)
        if isinstance(limit, int) and isinstance(used, int):
            rows.append((what, unit, limit_key, limit, used, mine, need))
    return rows


def over(row):
    _, _, _, limit, used, held, need = row
    return limit != UNLIMITED and used - held + need > limit


def quota_problems(limits, snapshots, gigabytes):
    """The quota lines that `snapshots` more snapshots of `gigabytes` in all would exceed."""
    problems = []
    for row in quota_rows(limits, (snapshots, gigabytes)):
        what, unit, key, limit, used, _, need = row
        if over(row):
            problems.append(f"Cinder's volume {what} quota ({key}) is {limit}{unit}, {used}{unit} "
                            f"in use, this backup needs {need}{unit} more")
    return problems


def snapshot_gigabytes(image):
    """The gigabytes of the volume snapshots the image names (Nova writes each volume's size
    into the mapping), without asking Cinder."""
    return sum(int(entry.get("volume_size") or 0) for entry in snapshot_entries(image)
               if str(entry.get("volume_size") or 0).isdigit())


def kept_size(images):
    """(bytes in Glance, gigabytes of volume snapshots) of the active images."""
    active = [image for image in images if image.get("status") == "active"
              and not being_deleted(image)]
    return (sum(int(image.get("size") or 0) for image in active),
            sum(snapshot_gigabytes(image) for image in active))
