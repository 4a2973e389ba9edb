"""What `prune` deletes: the retention rules applied to our own images only. Pure, no I/O; what
it prints is views.prune_lines.

Per series of this server's images that are ours (inventory.is_ours: our properties, set by us,
not inherited from the image a server was restored from; pinned ones never): keep the configured count of the newest
`active` images ([apt] rotation for the apt series, [schedule] daily/weekly/monthly/yearly for the
tiers, --keep N for any other series), never fewer than one, never a protected image (it keeps
its slot). Images in any other status are left alone: a
`saving` one may be an upload in progress. The choice itself is rotation.select_for_rotation,
the same rule the createImage path rotates with. Newest means by Glance's created_at, then by our
nsh_requested within one second (naming.age_order, through inventory.newest_first).
"""

from . import inventory
from .naming import PINNED_SERIES, SERIES_PROPERTY
from .rotation import select_for_rotation
from .volumes import IMAGE_MARK, being_deleted
from .schedule import TIERS


def configured_counts(settings):
    """{series: (count, where it is set)} for the series the settings give a count."""
    counts = {tier: (getattr(settings, tier), f"[schedule] {tier}") for tier in TIERS}
    counts[settings.apt_series] = (settings.apt_rotation, "[apt] rotation")
    return counts


def most_kept(settings):
    """(backups, words, series): how many backups the configured rotations hold at most at once:
    each series on (apt when enabled, each tier with a count) keeps its count, plus one new
    backup while it is made (rotation deletes only after it): one at a time, the host lock
    serialises the backups. The defaults: 5 + 7 + 4 + 12 + 2 = 30, and 1. The words say which
    rotations; `series` names them (pinned and by-hand backups are not rotated: on top)."""
    on = [(settings.apt_series, settings.apt_rotation, "[apt] rotation")] if settings.apt_enabled \
        else []
    on += [(tier, getattr(settings, tier), f"[schedule] {tier}") for tier in TIERS
           if getattr(settings, tier) > 0]
    total = sum(max(1, count) for _, count, _ in on) + (1 if on else 0)
    words = " + ".join(f"{series} {max(1, count)}" for series, count, _ in on)
    words = f"{words}, and 1 while a new one is made" if on else "none"
    return total, words, frozenset(series for series, _, _ in on)


class SeriesPlan:
    __slots__ = ("series", "keep", "source", "active", "delete", "protected", "others")

    def __init__(self, series, keep, source, active, delete, protected, others):
        self.series, self.keep, self.source = series, keep, source
        self.active, self.delete, self.protected, self.others = active, delete, protected, others


def plan(images, server_id, counts, keep=None, only=()):
    """One SeriesPlan per series of our images, by series name."""
    ours = [image for image in images if inventory.is_ours(image, server_id)]
    plans = []
    for series in sorted({image[SERIES_PROPERTY] for image in ours} - {PINNED_SERIES}):
        if only and series not in only:
            continue
        members = inventory.newest_first([i for i in ours if i[SERIES_PROPERTY] == series])
        active = [image for image in members if image.get("status") == "active"
                  and not being_deleted(image)]
        count, source = counts.get(series, (keep, "--keep") if keep is not None else (None, None))
        # a deletion that stopped half-way is finished whatever the count (rotation.py)
        delete = [image for image in members if being_deleted(image) and not image.get("protected")]
        if count is not None and active:
            delete = select_for_rotation(members, server_id, series, max(1, count), active[0]["id"])
        protected = [image for image in active if image.get("protected")]
        plans.append(SeriesPlan(series, count, source, active, delete, protected,
                                len([i for i in members if i not in active and not being_deleted(i)])))
    return plans


def to_delete(plans):
    return [image for series_plan in plans for image in series_plan.delete]


def record(plans, orphaned, deleted=None):
    """`prune --json`: per series what is deleted (or would be) and what is kept, each image with
    the reason (views.prune_lines says the same to people); the orphaned volume snapshots.
    `deleted`: the ids of the images deleted, None in a dry run."""
    done = set(deleted or ())
    series = []
    for p in plans:
        keep = None if p.keep is None else max(1, p.keep)
        doomed = {image.get("id") for image in p.delete}
        kept = [_entry(image, "protected" if image.get("protected") else
                       "no count configured" if keep is None else f"among the newest {keep}")
                for image in p.active if image.get("id") not in doomed]
        series.append({
            "series": p.series, "keep": keep, "count": p.keep,
            "source": p.source, "active": len(p.active), "other_status": p.others,
            "delete": [dict(_entry(image, "its deletion stopped half-way" if being_deleted(image)
                                   else f"older than the newest {keep}"),
                            deleted=image.get("id") in done) for image in p.delete],
            "kept": kept})
    return {"dry_run": deleted is None, "series": series,
            "orphaned_volume_snapshots": [
                {"id": snapshot.get("id"), "size_gb": snapshot.get("size"),
                 "status": snapshot.get("status"),
                 "image_id": (snapshot.get("metadata") or {}).get(IMAGE_MARK),
                 "deleted": deleted is not None} for snapshot in orphaned]}


def _entry(image, reason):
    return {"id": image.get("id"), "name": image.get("name"),
            "created_at": image.get("created_at"), "reason": reason}
