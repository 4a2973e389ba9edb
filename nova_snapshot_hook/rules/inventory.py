"""This server's backup images as people and scripts see them: pure functions, no I/O.

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
import json
import re

from ..errors import ConfigError
from .naming import METHOD_PROPERTY, PREFIX, SERIES_PROPERTY, SERVER_PROPERTY, is_ours, made_by_us

NOT_GUARANTEED = "not-guaranteed"
PROTECTED_MARK, NOT_GUARANTEED_MARK = "P", "!"
LEGEND = {PROTECTED_MARK: "protected: no rotation or prune deletes it",
          NOT_GUARANTEED_MARK: "capture not guaranteed: the wait timed out, so the image may hold "
                               "a disk already changed by what followed"}
# Glance's own fields, shown first by `show`; everything else is a property.
CORE_FIELDS = ("id", "name", "status", "created_at", "updated_at", "size", "virtual_size",
               "disk_format", "container_format", "visibility", "protected", "os_hidden",
               "owner", "min_disk", "min_ram", "checksum", "os_hash_algo", "os_hash_value",
               "tags", "locations", "direct_url", "file", "schema", "self")
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|credential|private[_-]?key", re.I)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MASK = "***"


# -- one image --------------------------------------------------------------------------------
def series_of(image):
    if made_by_us(image):
        return image[SERIES_PROPERTY]
    if image.get("image_type") == "snapshot":
        return "snapshot"
    return image.get("backup_type") or "-"


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


def format_time(epoch, seconds=True):
    if epoch is None:
        return "-"
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(shape)


def human_size(size):
    if size is None:
        return "-"
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"


def human_age(seconds):
    """`45s`, `12m`, `5h 02m`, `3d 04h`: precise enough to judge a backup's age at a glance."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes}m"
    if days < 1:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24:02d}h"


def numbered(image, stem):
    """The values of `nsh_<stem>_01`, `_02`, ... in their order."""
    keys = sorted(key for key in image if key.startswith(PREFIX + stem + "_")
                  and key[len(PREFIX + stem) + 1:].isdigit())
    return [str(image[key]) for key in sorted(keys, key=lambda k: int(k.rsplit("_", 1)[1]))]


def change_line(image):
    """`before: upgrade openssl 3.0.11-1 -> 3.0.11-2 -> succeeded`, or "" for no apt change."""
    changes = image.get(PREFIX + "changes")
    if not changes or not apt_facts(image):
        return ""
    outcome = image.get(PREFIX + "outcome") or "pending"
    line = f"before: {changes} -> {outcome}"
    if numbered(image, "later"):
        line += " (and later changes under the same backup: see 'show')"
    return line


def marks(image):
    flags = ""
    if image.get("protected"):
        flags += PROTECTED_MARK
    if image.get(PREFIX + "capture") == NOT_GUARANTEED and made_by_us(image):
        flags += NOT_GUARANTEED_MARK
    return flags


def record(image, server_id):
    """One image as `list --json` gives it."""
    apt = apt_facts(image)
    return {
        "id": image.get("id"), "name": image.get("name"), "created_at": image.get("created_at"),
        "series": series_of(image), "status": image.get("status"), "size": image.get("size"),
        "protected": bool(image.get("protected")),
        "capture_guaranteed": NOT_GUARANTEED_MARK not in marks(image),
        "ours": is_ours(image, server_id),
        "trigger": image.get(PREFIX + "trigger") if made_by_us(image) else None,
        "image_type": image.get("image_type"),
        "changes": image.get(PREFIX + "changes") if apt else None,
        "outcome": image.get(PREFIX + "outcome") if apt else None,
        "change_list": numbered(image, "change") if apt else [],
        "later_changes": numbered(image, "later") if apt else [],
    }


def newest_first(images):
    return sorted(images, key=lambda image: (image.get("created_at") or "", image.get("name") or "",
                                             image.get("id") or ""), reverse=True)


# -- the listing --------------------------------------------------------------------------------
def list_lines(images, server_id):
    """The `list` table, newest first; change lines indented under their image; a legend."""
    images = newest_first(images)
    if not images:
        return [f"No backup images of server {server_id}."]
    header = ("CREATED (UTC)", "SERIES", "STATUS", "SIZE", "MARK", "ID", "NAME")
    rows = [(format_time(parse_time(image.get("created_at"))), series_of(image),
             image.get("status") or "-", human_size(image.get("size")), marks(image) or "-",
             image.get("id") or "-", image.get("name") or "-") for image in images]
    widths = [max(len(row[n]) for row in rows + [header]) for n in range(len(header) - 1)]

    def line(row):
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]

    lines = [line(header).rstrip()]
    indent = " " * (widths[0] + 2)
    for image, row in zip(images, rows):
        lines.append(line(row))
        change = change_line(image)
        if change:
            lines.append(indent + change)
    used = {mark for image in images for mark in marks(image)}
    for mark in (PROTECTED_MARK, NOT_GUARANTEED_MARK):
        if mark in used:
            lines.append(f"{mark}: {LEGEND[mark]}")
    return lines


def volume_warning(server):
    """The warning for volumes attached to the server (a dict from GET /servers/{id}), or None."""
    volumes = [volume.get("id") for volume in server.get("os-extended-volumes:volumes_attached") or []
               if isinstance(volume, dict)]
    if not volumes:
        return None
    some = ", ".join(volume for volume in volumes if volume)
    noun = "volume is" if len(volumes) == 1 else f"{len(volumes)} volumes are"
    return (f"{noun} attached to server {server.get('id')} ({some}): attached volumes are not in "
            "the backup images (only a volume-backed server's root disk is snapshotted, in Cinder); "
            "back their data up separately")


# -- finding one image --------------------------------------------------------------------------
def looks_like_id(text):
    return bool(_UUID.fullmatch(text or ""))


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


# -- every detail -------------------------------------------------------------------------------
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


def summary(image, server_id, now=None):
    """(label, value) pairs that say what a backup is, for `show`."""
    created = parse_time(image.get("created_at"))
    series = series_of(image)
    belongs = image.get("instance_uuid") or image.get(SERVER_PROPERTY) or "-"
    pairs = [
        ("image", f"{image.get('name') or '-'} ({image.get('id')})"),
        ("status", image.get("status") or "-"),
        ("created (UTC)", format_time(created) + (f", {human_age(now - created)} ago"
                                                  if now is not None and created else "")),
        ("size", human_size(image.get("size")) + (f" ({image['size']} bytes)"
                                                   if image.get("size") is not None else "")),
        ("server", belongs + (" (this server)" if belongs == server_id else "")),
        ("series", series + (" (made by nova-snapshot-hook)" if made_by_us(image) else
                             f" (its nsh_ properties are inherited from base image "
                             f"{image.get('base_image_ref') or '?'}: not made by "
                             "nova-snapshot-hook)" if inherited(image) else "")),
        ("trigger", (image.get(PREFIX + "trigger") if made_by_us(image) else None) or "-"),
        ("protected", f"yes (to let rotation delete it again: openstack image set --unprotected "
                      f"{image.get('id')})" if image.get("protected") else
                      "no (rotation or prune may delete it)"),
    ]
    if made_by_us(image):
        pairs.append(("capture", "NOT GUARANTEED: the wait for the capture timed out; the image "
                                 "may hold a disk already changed by what followed"
                      if NOT_GUARANTEED_MARK in marks(image) else
                      "captured before the command went on"))
    if apt_facts(image) and image.get(PREFIX + "changes"):
        pairs.append(("before", image[PREFIX + "changes"]))
        pairs.append(("apt outcome", image.get(PREFIX + "outcome") or "pending"))
        for chunk in numbered(image, "change"):
            pairs.append(("changes", chunk))
        for chunk in numbered(image, "later"):
            pairs.append(("later changes", chunk))
    return pairs


def detail_lines(image, server_id, now=None):
    """`show`: the summary, then every field and property, core fields first, secrets masked."""
    safe = scrub(image)
    pairs = summary(safe, server_id, now)
    width = max(len(label) for label, _ in pairs)
    lines = [f"{label.ljust(width)}  {value}" for label, value in pairs]
    core = [key for key in CORE_FIELDS if key in safe]
    rest = sorted(key for key in safe if key not in CORE_FIELDS)
    keys = core + rest
    width = max((len(key) for key in keys), default=0)
    lines.append("")
    lines.append("Fields and properties:")
    for key in keys:
        value = safe[key]
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        lines.append(f"  {key.ljust(width)}  {text}")
    return lines
