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

The mapping is data anyone with image PATCH can write, and a snapshot id goes into a URL path
(`../volumes/ID` would become DELETE /volumes/ID): only UUIDs are read from it, and a snapshot is
deleted only when Cinder says it is one of the server's volumes' (`deletable`).
"""

import json

from .capture import CAPTURED, FAILED, PENDING
from .naming import PREFIX, is_uuid

DELETING_PROPERTY = PREFIX + "deleting"     # on an image whose deletion has begun
IMAGE_MARK, SERVER_MARK = PREFIX + "image", PREFIX + "server"   # on our snapshots' metadata
UNLIMITED = -1


def _mapping(image):
    """The entries of the image's block_device_mapping (a JSON text in Glance) as dicts; [] for
    any other image, or a mapping that cannot be read."""
    mapping = (image or {}).get("block_device_mapping")
    if isinstance(mapping, str):
        try:
            mapping = json.loads(mapping)
        except ValueError:
            return []
    if not isinstance(mapping, list):
        return []
    return [entry for entry in mapping if isinstance(entry, dict)]


def snapshot_entries(image):
    """The entries of the image's block_device_mapping that name a Cinder snapshot by UUID."""
    return [entry for entry in _mapping(image) if is_uuid(entry.get("snapshot_id"))]


def rejected_snapshot_ids(image):
    """What the mapping gives as a snapshot id that is not a UUID: never used, never deleted."""
    return [entry["snapshot_id"] for entry in _mapping(image)
            if entry.get("snapshot_id") not in (None, "") and not is_uuid(entry["snapshot_id"])]


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


def deletable(ids, snapshots, image_id, server_id, volume_ids):
    """(ids to delete, [(id, why not)]) of a backup's snapshots `ids`, by what Cinder says
    (`snapshots`: its listing by id), the volumes of the image's server as Nova lists them, and
    our marks. One gone already, or being deleted, is neither: nothing is left to do."""
    delete, refused = [], []
    for sid in ids:
        snapshot = snapshots.get(sid)
        if snapshot is None or snapshot.get("status") == "deleting":
            continue
        why = not_of_server(snapshot, volume_ids, server_id, image_id)
        mark = (snapshot.get("metadata") or {}).get(IMAGE_MARK)
        if not why and mark and mark != image_id:     # another backup's: it would break that one
            why = f"it is marked as part of backup image {mark}"
        if why:
            refused.append((sid, why))
        else:
            delete.append(sid)
    return delete, refused


def not_of_server(snapshot, volume_ids, server_id, image_id=None):
    """Why Cinder's snapshot is not part of a backup of the server (None: it is): it is one of
    the server's volumes' (`volume_ids` as Nova lists them, None when unknown), or it carries our
    marks for this server (and this image, when given). The marks keep a volume detached since
    the backup from leaving part of the backup behind; they are metadata, but whoever can write
    them can delete the snapshot outright, and no mark turns a volume into a snapshot."""
    if volume_ids is not None and snapshot.get("volume_id") in set(volume_ids):
        return None
    marks = snapshot.get("metadata") or {}
    if marks.get(SERVER_MARK) == server_id and marks.get(IMAGE_MARK) and (
            image_id is None or marks.get(IMAGE_MARK) == image_id):
        return None
    volume = snapshot.get("volume_id") or "(none)"
    if volume_ids is None:
        return f"it is a snapshot of volume {volume} without our marks, and the server's " \
               "volumes cannot be read"
    return f"Cinder says it is a snapshot of volume {volume}, which is not attached to the " \
           "server, and it does not carry our marks for this backup"


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
