"""Our own rotation, for images made with createImage (Nova rotates createBackup series itself).

Pure: given the listed images, choose what to delete. Rules (clarifications 9, product rule 2):
only images that carry our properties for this server and series; only `active` ones count;
never the new image; nothing at all until the new image is active; never fewer than one kept.
"""

from .naming import is_ours


def select_for_rotation(images, server_id, series, keep, new_image_id):
    """Return the images to delete, oldest last in the list order they were given (newest first)."""
    keep = max(1, int(keep))
    ours = [image for image in images if is_ours(image, server_id, series)]
    active = [image for image in ours if image.get("status") == "active"]
    if not any(image.get("id") == new_image_id for image in active):
        return []
    active.sort(key=lambda image: (image.get("created_at") or "", image.get("id") == new_image_id),
                reverse=True)
    # A protected image keeps its slot but is never deleted (Glance would refuse anyway).
    return [image for image in active[keep:]
            if image.get("id") != new_image_id and not image.get("protected")]
