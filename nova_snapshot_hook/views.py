"""What the commands print for people: the lines of `list`, `show`, `status`, `prune` and
`fleet`, and the credential's expiry, made from what the rules decided (rules/ decides, this
module words it, commands/ prints).
The JSON shapes stay with the rules' objects (as_dict, inventory.record): scripts read those
(json.dumps escapes every control character, and every non-ASCII one, by default).

Names, properties, statuses and errors come from the cloud, where anyone allowed to update an
image can write them: every line made here goes through text.printable (`_printable`).
"""

import json

from .rules import expiry, inventory, pinning, volumes
from .rules.naming import PREFIX, SERVER_PROPERTY, made_by_us
from .rules.restore_plan import unprotect_hint
from .text import format_time, human_age, human_size, printable, table

PROTECTED_MARK, NOT_GUARANTEED_MARK, PINNED_MARK, DELETING_MARK = "P", "!", "K", "D"
LEGEND = {PROTECTED_MARK: "protected: no rotation or prune deletes it",
          PINNED_MARK: "pinned: kept for good, out of every rotation until 'unpin'",
          DELETING_MARK: "being deleted: a deletion stopped half-way; the next rotation or "
                         "'prune --delete' finishes it",
          NOT_GUARANTEED_MARK: "capture not guaranteed: the wait timed out, so the image may hold "
                               "a disk already changed by what followed"}
# Glance's own fields, shown first by `show`; everything else is a property.
CORE_FIELDS = ("id", "name", "status", "created_at", "updated_at", "size", "virtual_size",
               "disk_format", "container_format", "visibility", "protected", "os_hidden",
               "owner", "min_disk", "min_ram", "checksum", "os_hash_algo", "os_hash_value",
               "tags", "locations", "direct_url", "file", "schema", "self")


def _printable(lines):
    return [printable(line) for line in lines]


def _created(image):
    return format_time(inventory.parse_time(image.get("created_at")))


# -- list ---------------------------------------------------------------------------------------
def marks(image):
    return ((PROTECTED_MARK if image.get("protected") else "")
            + (PINNED_MARK if pinning.is_pinned(image) else "")
            + (DELETING_MARK if volumes.being_deleted(image) else "")
            + ("" if inventory.capture_guaranteed(image) else NOT_GUARANTEED_MARK))


def size_text(size, gigabytes=0):
    """`1.2 MiB`, or with volume snapshots `0 B + 2 GB volume snapshots`."""
    text = human_size(size)
    return text + (f" + {gigabytes} GB volume snapshots" if gigabytes else "")


def snapshot_line(snapshot_id, snapshot):
    """One volume snapshot of a backup: `<id> available, 1 GB, of volume <id>`."""
    if snapshot is None:
        return f"{snapshot_id} (not found in Cinder)"
    return (f"{snapshot_id} {snapshot.get('status') or '?'}, {snapshot.get('size', '?')} GB, of "
            f"volume {snapshot.get('volume_id') or '?'}")


def kept_lines(images):
    """What the backups cost: per series and in all, the active images kept."""
    by_series = {}
    for image in images:
        if inventory.series_of(image) != "-":
            by_series.setdefault(inventory.series_of(image), []).append(image)
    if not by_series:
        return []
    lines = []
    for series, members in sorted(by_series.items()):
        size, gigabytes = volumes.kept_size(members)
        count = len([i for i in members if i.get("status") == "active"
                     and not volumes.being_deleted(i)])
        lines.append(f"Kept in series {series}: {count} image(s), {size_text(size, gigabytes)}.")
    kept = [image for members in by_series.values() for image in members]
    size, gigabytes = volumes.kept_size(kept)
    count = len([i for i in kept if i.get("status") == "active" and not volumes.being_deleted(i)])
    lines.append(f"Kept in all: {count} image(s), {size_text(size, gigabytes)}.")
    return lines


def change_line(image):
    """`before: upgrade openssl 3.0.11-1 -> 3.0.11-2 -> succeeded`, or "" for no apt change."""
    changes = image.get(PREFIX + "changes")
    if not changes or not inventory.apt_facts(image):
        return ""
    outcome = image.get(PREFIX + "outcome") or "pending"
    line = f"before: {changes} -> {outcome}"
    if inventory.numbered(image, "later"):
        line += " (and later changes under the same backup: see 'show')"
    return line


def list_lines(images, server_id, snapshots=None):
    """The `list` table, newest first; change lines and volume snapshots indented under their
    image; what the backups cost; a legend. `snapshots`: Cinder's snapshots by id, or None when
    they could not be read."""
    images = inventory.newest_first(images)
    if not images:
        return _printable([f"No backup images of server {server_id}."])
    header = ("CREATED (UTC)", "SERIES", "STATUS", "SIZE", "MARK", "ID", "NAME")
    rows = [(_created(image), inventory.series_of(image), image.get("status") or "-",
             human_size(image.get("size")), marks(image) or "-", image.get("id") or "-",
             image.get("name") or "-") for image in images]
    header_line, *row_lines = table(rows, header)
    indent = " " * (max(len(row[0]) for row in rows + [header]) + 2)
    lines = [header_line]
    for image, line in zip(images, row_lines):
        lines.append(line)
        change = change_line(image)
        if change:
            lines.append(indent + change)
        for snapshot_id in volumes.snapshot_ids(image):
            lines.append(indent + "volume snapshot " + (
                snapshot_line(snapshot_id, snapshots.get(snapshot_id)) if snapshots is not None
                else f"{snapshot_id} (state unknown: Cinder could not be read)"))
    lines += kept_lines(images)
    used = {mark for image in images for mark in marks(image)}
    lines += [f"{mark}: {LEGEND[mark]}" for mark in
              (PROTECTED_MARK, PINNED_MARK, DELETING_MARK, NOT_GUARANTEED_MARK) if mark in used]
    return _printable(lines)


def volume_warning(server):
    """The warning for volumes attached to the server (a dict from GET /servers/{id}), or None."""
    attached = volumes.attached_volume_ids(server)
    if not attached:
        return None
    some = ", ".join(attached)
    noun = "volume is" if len(attached) == 1 else f"{len(attached)} volumes are"
    if volumes.is_volume_backed(server):
        return None     # its backups snapshot every attached volume (createImage)
    return printable(f"{noun} attached to server {server.get('id')} ({some}): attached volumes "
                     "are not in the backup images of an image-backed server; back their data up "
                     "separately")


# -- show ---------------------------------------------------------------------------------------
def summary(image, server_id, now=None, snapshots=None):
    """(label, value) pairs that say what a backup is, for `show`. `snapshots`: Cinder's
    snapshots by id, or None when they could not be read."""
    created = inventory.parse_time(image.get("created_at"))
    series = inventory.series_of(image)
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
                             "nova-snapshot-hook)" if inventory.inherited(image) else "")),
        ("trigger", (image.get(PREFIX + "trigger") if made_by_us(image) else None) or "-"),
        ("protected", f"yes (to let rotation delete it again: "
                      f"{unprotect_hint(image.get('id'))})" if image.get("protected") else
                      "no (rotation or prune may delete it)"),
    ]
    if made_by_us(image) and image.get(PREFIX + "quiesce"):
        pairs.append(("quiesce", "expected: Nova freezes the filesystems through the guest agent"
                      if image[PREFIX + "quiesce"] == "agent" else
                      "none expected: a crash-consistent backup (see 'check')"))
    if pinning.is_pinned(image):
        pairs.append(("pinned", f"yes, out of series {image.get(pinning.FROM_PROPERTY)} for good "
                                f"(to give it back: nova-snapshot-hook unpin {image.get('id')})"))
    if volumes.being_deleted(image):
        pairs.append(("being deleted", f"since {image.get(volumes.DELETING_PROPERTY)}: the next "
                                       "rotation or 'prune --delete' finishes it"))
    for snapshot_id in volumes.snapshot_ids(image):
        pairs.append(("volume snapshot", snapshot_line(snapshot_id, snapshots.get(snapshot_id))
                      if snapshots is not None else f"{snapshot_id} (state unknown: Cinder "
                                                    "could not be read)"))
    if made_by_us(image):
        pairs.append(("capture", "captured before the command went on"
                      if inventory.capture_guaranteed(image) else
                      "NOT GUARANTEED: the wait for the capture timed out; the image may hold a "
                      "disk already changed by what followed"))
    if inventory.apt_facts(image) and image.get(PREFIX + "changes"):
        pairs.append(("before", image[PREFIX + "changes"]))
        pairs.append(("apt outcome", image.get(PREFIX + "outcome") or "pending"))
        pairs += [("changes", chunk) for chunk in inventory.numbered(image, "change")]
        pairs += [("later changes", chunk) for chunk in inventory.numbered(image, "later")]
    return pairs


def detail_lines(image, server_id, now=None, snapshots=None):
    """`show`: the summary, then every field and property, core fields first, secrets masked."""
    safe = inventory.scrub(image)
    keys = [key for key in CORE_FIELDS if key in safe]
    keys += sorted(key for key in safe if key not in CORE_FIELDS)
    fields = [(key, safe[key] if isinstance(safe[key], str) else
               json.dumps(safe[key], sort_keys=True)) for key in keys]
    return _printable(table(summary(safe, server_id, now, snapshots))
                      + ["", "Fields and properties:"] + ["  " + line for line in table(fields)])


# -- status and fleet status --------------------------------------------------------------------
FRESHNESS_HEADER = ("LAST BACKUP (UTC)", "AGE", "STATE", "KEPT")


def _freshness_cells(row, now):
    """The cells under FRESHNESS_HEADER of a freshness.SeriesFreshness."""
    return (format_time(row.last_time), human_age(row.age(now)),
            (row.newest or {}).get("status") or "-", str(row.active))


def status_lines(rows, now):
    """`status`: one line per series of this server, with its last attempt."""
    if not rows:
        return ["No backup series for this server, and no schedule enabled."]
    header = ("SERIES",) + FRESHNESS_HEADER + ("SIZE", "LAST ATTEMPT", "VERDICT")
    lines = table([(row.series,) + _freshness_cells(row, now) + (
        size_text(*row.size),
        f"{row.attempt['outcome']} {format_time(row.attempt['time'], seconds=False)}"
        if row.attempt else "-", f"{row.verdict}: {row.why}") for row in rows], header)
    total = (sum(row.size[0] for row in rows), sum(row.size[1] for row in rows))
    return _printable(lines + [f"Kept in all: {sum(row.active for row in rows)} backup(s), "
                               f"{size_text(*total)}."])


def credential_expiry(record, judged, fix):
    """When the application credential in use expires (`check`'s line, `status`'s), and `fix`
    once it is near (rules/expiry.py)."""
    name = f"application credential {record.get('name')} ({record.get('id')})"
    if judged.expires is None:
        return printable(f"{name} never expires")
    when = format_time(judged.expires, seconds=False) + " UTC"
    if judged.expired:
        text = f"{name} expired {when}"
    else:
        left = {0: "less than a day", 1: "1 day"}.get(judged.days_left, f"{judged.days_left} days")
        text = f"{name} expires {when}, in {left}"
    if judged.verdict != expiry.OK:
        text += f": {fix}"
    return printable(text)


def status_credential_line(record, judged, fix):
    """`status`'s last line, in its monitoring words."""
    word = {expiry.OK: "ok", expiry.WARN: "warning", expiry.FAIL: "critical"}[judged.verdict]
    return f"Credential expiry: {word}: {credential_expiry(record, judged, fix)}"


def fleet_status_lines(rows, now):
    """`fleet status`: one line per series of each selected server."""
    if not rows:
        return ["No server selected."]
    header = ("SERVER", "NAME", "SERIES") + FRESHNESS_HEADER + ("VERDICT",)
    return table([(row.server_id, row.server_name or "-", row.series or "-")      # escaped there
                  + _freshness_cells(row, now) + (f"{row.verdict}: {row.why}",)
                  for row in rows], header)


def fleet_summary_lines(outcomes, seconds=None):
    """`fleet snapshot`: one line per server, then the count of backed up and failed."""
    header = ("SERVER", "NAME", "IMAGE", "STATE", "SECONDS", "ERROR")
    lines = table([(o.server_id, o.server_name or "-", o.image_id or "-", o.state,
                    f"{o.seconds:.1f}", o.error or "") for o in outcomes], header)
    failed = [o for o in outcomes if o.failed]
    total = f" in {seconds:.1f} s" if seconds is not None else ""
    tail = f"{len(outcomes)} server{'s' if len(outcomes) != 1 else ''}{total}: " \
           f"{len(outcomes) - len(failed)} backed up, {len(failed)} failed"
    if failed:
        tail += ": " + ", ".join(o.server_name or o.server_id for o in failed)
    return _printable(lines + [tail])


# -- prune --------------------------------------------------------------------------------------
def prune_lines(plans):
    """What `prune` deletes and keeps, per retention.SeriesPlan."""
    if not plans:
        return ["No images of ours for this server."]
    lines = []
    for p in plans:
        others = f", {p.others} in another status (left alone)" if p.others else ""
        if p.keep is None:
            lines.append(f"Series {p.series}: {len(p.active)} active{others}; no count configured, "
                         "all kept (give --keep N).")
            lines += [f"  delete  {_describe(image)} (its deletion stopped half-way)"
                      for image in p.delete]
            continue
        keep = max(1, p.keep)
        floor = " (0 means off; at least one is kept)" if p.keep < 1 else ""
        verdict = f"delete {len(p.delete)}" if p.delete else "nothing to delete"
        lines.append(f"Series {p.series}: keep {keep} ({p.source} = {p.keep}{floor}); "
                     f"{len(p.active)} active{others}: {verdict}.")
        lines += [f"  delete  {_describe(image)}" for image in p.delete]
        lines += [f"  protected, kept  {_describe(image)}" for image in p.protected]
    return _printable(lines)


def _describe(image):
    return f"{_created(image)}  {image.get('name')} ({image.get('id')})"
