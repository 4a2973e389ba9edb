"""Keeping one backup for good (`pin`) and giving it back to its rotation (`unpin`). Pure, no I/O.

A pinned image leaves its series for the series `pinned`: our rotation and `prune` count only a
series' own images, and Nova's createBackup rotation counts only its `backup_type`, so moving
the image out (both `nsh_series` and, for a createBackup image, `backup_type`) keeps every series
at its count. A protected image left in its series would not: Nova's rotation logs the refused
delete and keeps one image too many. The pinned image is also protected, so nothing deletes it;
`nsh_pinned_from` remembers its series for `unpin`. The change is one JSON patch, applied whole
or not at all by Glance.
"""

from .naming import PINNED_SERIES as PINNED, PREFIX, SERIES_PROPERTY, is_ours
from .volumes import being_deleted

FROM_PROPERTY = PREFIX + "pinned_from"


def is_pinned(image):
    return image.get(SERIES_PROPERTY) == PINNED and bool(image.get(FROM_PROPERTY))


def _moves_backup_type(image):
    return image.get("image_type") == "backup" and "backup_type" in image


def pin_refusals(image, server_id):
    """Why this image cannot be pinned (empty: it can)."""
    if not is_ours(image, server_id):
        return [f"image {image.get('id')} is not a backup made by nova-snapshot-hook of server "
                f"{server_id}"]
    if is_pinned(image):
        return [f"image {image.get('id')} is pinned already"]
    if image.get("status") != "active" or being_deleted(image):
        return [f"image {image.get('id')} is {image.get('status')}"
                + (", being deleted" if being_deleted(image) else "") + ", not an active backup"]
    return []


def unpin_refusals(image, server_id):
    if not is_ours(image, server_id) or not is_pinned(image):
        return [f"image {image.get('id')} is not a pinned backup of server {server_id}"]
    return []


def pin_patch(image):
    series = image[SERIES_PROPERTY]
    patch = [{"op": "replace", "path": "/" + SERIES_PROPERTY, "value": PINNED},
             {"op": "add", "path": "/" + FROM_PROPERTY, "value": series},
             {"op": "replace", "path": "/protected", "value": True}]
    if _moves_backup_type(image):
        patch.append({"op": "replace", "path": "/backup_type", "value": PINNED})
    return patch


def unpin_patch(image):
    series = image[FROM_PROPERTY]
    patch = [{"op": "replace", "path": "/" + SERIES_PROPERTY, "value": series},
             {"op": "remove", "path": "/" + FROM_PROPERTY},
             {"op": "replace", "path": "/protected", "value": False}]
    if _moves_backup_type(image):
        patch.append({"op": "replace", "path": "/backup_type", "value": series})
    return patch


def record(image):
    """`pin --json` and `unpin --json`: the image as it is now."""
    return {"id": image.get("id"), "name": image.get("name"),
            "series": image.get(SERIES_PROPERTY), "pinned": is_pinned(image),
            "pinned_from": image.get(FROM_PROPERTY), "protected": bool(image.get("protected")),
            "backup_type": image.get("backup_type")}
