"""Our own rotation, for images made with createImage (Nova rotates createBackup series itself).

Pure: given the listed images, choose what to delete. Rules (doc/decisions.md, Rotation):
only images that carry our properties for this server and series; only `active` ones count;
never the new image; never fewer than one kept. An image whose deletion began (a volume-backed
backup whose snapshots were being deleted when the run stopped) takes no slot and is always
finished off. Images are ordered by Glance's created_at, then by our nsh_requested within one
second (naming.age_order).

While the new image is still uploading (a run waits for the capture, not for the upload), it
takes no slot: the older active images are cut to `keep`, so every image deleted has `keep`
newer ones that succeeded, and the series holds at most keep + 1 until the next run. Waiting
for the new one to be active instead would never rotate on a cloud whose upload outlasts the run.
"""

from .naming import age_order, is_ours
from .volumes import being_deleted


def select_for_rotation(images, server_id, series, keep, new_image_id):
    """Return the images to delete: those whose deletion began, then the surplus, newest first."""
    keep = max(1, int(keep))
    ours = [image for image in images if is_ours(image, server_id, series)]
    unfinished = [image for image in ours if being_deleted(image)
                  and image.get("id") != new_image_id and not image.get("protected")]
    active = [image for image in ours if image.get("status") == "active"
              and not being_deleted(image)]
    # Newest first: by created_at, the new image newest of its second, then our nsh_requested
    # (naming.age_order), which orders two backups of one second.
    active.sort(key=lambda image: _newest(image, new_image_id), reverse=True)
    if not any(image.get("id") == new_image_id for image in active):
        # Never count a new image that has not succeeded; cut only what older successes allow.
        active = [image for image in active if image.get("id") != new_image_id]
    # A protected image keeps its slot but is never deleted (Glance would refuse anyway).
    return unfinished + [image for image in active[keep:]
                         if image.get("id") != new_image_id and not image.get("protected")]


def _newest(image, new_image_id):
    created_at, requested = age_order(image)
    return created_at, image.get("id") == new_image_id, requested
