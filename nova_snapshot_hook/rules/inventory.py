"""What an image is: its series, whether it is ours, what it says about apt; finding one image.
Pure, no I/O; what `list` and `show` print of it is in views.py.

An image here is Glance's JSON object (a dict). Its *series* is our `nsh_series`, else Nova's
`backup_type`; a snapshot that is no backup (createImage by someone else) shows as `snapshot`.
The apt hook leaves on its backup the change it preceded (`nsh_changes`, `nsh_change_NN`), changes
made later under the same backup (`nsh_later_NN`) and whether the apt run then succeeded
(`nsh_outcome`); a backup whose capture wait timed out carries `nsh_capture=not-guaranteed`.

Nova copies the properties of a server's image onto every snapshot of the server. A server rebuilt
from (or booted from) one of our backups therefore hands our `nsh_` properties to every image made
of it later, also by others. An image counts as ours only when its `nsh_method` agrees with what
Nova says it is (`image_type` backup with `backup_type` = `nsh_series` for createBackup, snapshot
for createImage) and, for a server, when `nsh_server` and `instance_uuid` both name it.
"""

import datetime
import re

from ..errors import ConfigError
from . import naming, pinning, volumes
from .naming import PREFIX, SERIES_PROPERTY, is_ours, made_by_us

NOT_GUARANTEED = "not-guaranteed"
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|credential|private[_-]?key", re.I)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
MASK = "***"


# -- one image --------------------------------------------------------------------------------
def series_of(image):
    if made_by_us(image):
        return image[SERIES_PROPERTY]
    if image.get("image_type") == "snapshot":
        return "snapshot"
    return image.get("backup_type") or "-"


def server_of(image):
    """The server an image was made of: Nova's instance_uuid, or for our backup of a
    volume-backed server (which Nova leaves without one) our nsh_server."""
    return image.get("instance_uuid") or (image.get(naming.SERVER_PROPERTY) if made_by_us(image)
                                          else None)


def inherited(image):
    """True for an image that carries our properties without being ours (see the top)."""
    return bool(image.get(SERIES_PROPERTY)) and not made_by_us(image)


def apt_facts(image):
    """Whether the apt properties describe this image: only on an apt-triggered backup of ours
    (any other image may carry them inherited from the backup its server was restored from)."""
    return made_by_us(image) and image.get(PREFIX + "trigger") == "apt"


def parse_time(text):
    """Glance's `2026-11-26T06:14:56Z` (or with fractions or an offset) as epoch seconds."""
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def numbered(image, stem):
    """The values of `nsh_<stem>_01`, `_02`, ... in their order."""
    keys = sorted(key for key in image if key.startswith(PREFIX + stem + "_")
                  and key[len(PREFIX + stem) + 1:].isdigit())
    return [str(image[key]) for key in sorted(keys, key=lambda k: int(k.rsplit("_", 1)[1]))]


def capture_guaranteed(image):
    """False only for our image whose wait for the capture timed out (an inherited mark is not
    this image's)."""
    return not (made_by_us(image) and image.get(PREFIX + "capture") == NOT_GUARANTEED)


def snapshot_records(image, snapshots):
    """The volume snapshots an image names, with Cinder's state when known (`snapshots` by id,
    None when Cinder could not be read)."""
    records = []
    for sid in volumes.snapshot_ids(image):
        known = (snapshots or {}).get(sid)
        records.append({"id": sid, "status": known.get("status") if known else
                        (None if snapshots is None else "missing"),
                        "size_gb": known.get("size") if known else None,
                        "volume_id": known.get("volume_id") if known else None})
    return records


def record(image, server_id, snapshots=None):
    """One image as `list --json` gives it."""
    apt = apt_facts(image)
    return {
        "id": image.get("id"), "name": image.get("name"), "created_at": image.get("created_at"),
        "series": series_of(image), "status": image.get("status"), "size": image.get("size"),
        "protected": bool(image.get("protected")),
        "pinned": pinning.is_pinned(image),
        "being_deleted": volumes.being_deleted(image),
        "volume_snapshots": snapshot_records(image, snapshots),
        "capture_guaranteed": capture_guaranteed(image),
        "ours": is_ours(image, server_id),
        "trigger": image.get(PREFIX + "trigger") if made_by_us(image) else None,
        "image_type": image.get("image_type"),
        "changes": image.get(PREFIX + "changes") if apt else None,
        "outcome": image.get(PREFIX + "outcome") if apt else None,
        "change_list": numbered(image, "change") if apt else [],
        "later_changes": numbered(image, "later") if apt else [],
    }


def newest_first(images):
    """By created_at, then our nsh_requested within one second (naming.age_order), then name and
    id, newest first: what `list`, `status` and `prune` go by."""
    return sorted(images, key=lambda image: (*naming.age_order(image), image.get("name") or "",
                                             image.get("id") or ""), reverse=True)


# -- finding one image --------------------------------------------------------------------------
def looks_like_id(text):
    return naming.is_uuid(text)


def pick_by_name(images, name, server_id):
    """The one image named exactly `name`: this server's when the name is shared; refused when
    that still leaves more than one, or none."""
    exact = [image for image in images if image.get("name") == name]
    if not exact:
        raise ConfigError(f"no image named '{name}'",
                          fix="give an image id or an exact name that 'nova-snapshot-hook list' shows")
    if len(exact) > 1:
        mine = [image for image in exact if image.get("instance_uuid") == server_id
                or is_ours(image, server_id)]
        if len(mine) == 1:
            return mine[0]
        ids = ", ".join(image.get("id", "?") for image in newest_first(mine or exact))
        raise ConfigError(f"{len(mine or exact)} images are named '{name}' ({ids})",
                          fix="give the image id instead")
    return exact[0]


# -- safe to print -------------------------------------------------------------------------------
def scrub(value, key=""):
    """A copy safe to print: values of secret-looking keys masked, credentials in URLs removed
    (a Glance `direct_url` or location of some stores carries `user:key@`)."""
    if key and _SECRET_KEY.search(key):
        return MASK
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return _URL_USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", value)
    return value
