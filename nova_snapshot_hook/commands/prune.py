"""The `prune` command: apply the retention rules to our own images of this server."""

import json

from .. import views
from ..backup import delete
from ..context import say
from ..rules import naming, retention, volumes
from .options import add_server, check_series, whole_number
from ..errors import EXIT_OK, CloudError, IdentityError
from ..log import SUCCESS, log


def add_parser(commands):
    cmd = commands.add_parser(
        "prune", help="delete our own surplus backup images (a dry run unless --delete)",
        description="Apply the retention rules to this server's images made by "
                    "nova-snapshot-hook, series by series: keep the newest active images, as many "
                    "as [apt] rotation says for the apt series, [schedule] daily, weekly, monthly "
                    "and yearly for those tiers, and --keep for any other series; never fewer "
                    "than one, never a protected or pinned image. Images in another status, and "
                    "images that are not ours, are left alone. A volume-backed backup is deleted "
                    "with its Cinder snapshots; a deletion that stopped half-way is finished; and "
                    "our own volume snapshots of this server that no image names any more are "
                    "listed and deleted too. Without --delete it only shows what it would delete.")
    cmd.add_argument("--delete", action="store_true", help="really delete the images shown")
    cmd.add_argument("--json", action="store_true",
                     help="print what is deleted (or would be) and what is kept, and why, as "
                          "JSON on stdout")
    cmd.add_argument("--keep", type=whole_number, metavar="N",
                     help="how many to keep of a series that has no count in the settings "
                          "(default: keep them all)")
    cmd.add_argument("--series", metavar="SERIES", action="append",
                     help="prune only this series, repeatable (default: every series)")
    add_server(cmd)
    cmd.set_defaults(run=run, syslog=lambda args: args.delete)


def run(ctx, args):
    settings = ctx.settings
    for series in args.series or ():
        check_series(series)
    deleted = None          # the ids deleted; None in a dry run
    with ctx.bounded(settings.timeout):
        images = ctx.cloud.list_images(**{naming.SERVER_PROPERTY: ctx.server_id})
        plans = retention.plan(images, ctx.server_id, retention.configured_counts(settings),
                               keep=args.keep, only=tuple(args.series or ()))
        for line in () if args.json else views.prune_lines(plans):
            say(line)
        doomed = retention.to_delete(plans)
        # the doomed images' own snapshots go with them (delete_backup), not as orphans
        orphaned = orphaned_snapshots(ctx, images)
        volume_ids = server_volumes(ctx) if any(
            volumes.snapshot_ids(image) for image in doomed) else []
        for snapshot in () if args.json else orphaned:
            say(f"  delete  volume snapshot {snapshot['id']} ({snapshot.get('size', '?')} GB, "
                f"{snapshot.get('status')}): ours, of backup image "
                f"{snapshot['metadata'][volumes.IMAGE_MARK]}, which is gone")
        if args.delete:
            deleted = delete_all(ctx, doomed, orphaned, volume_ids)
        elif (doomed or orphaned) and not args.json:
            say(f"Dry run: {len(doomed)} image(s) and {len(orphaned)} orphaned volume "
                "snapshot(s) would be deleted; add --delete to delete them.")
    if args.json:
        say(json.dumps(retention.record(plans, orphaned, deleted), indent=1, sort_keys=True))
    return EXIT_OK


def delete_all(ctx, doomed, orphaned, volume_ids):
    """Delete the doomed images (each with its volume snapshots) and the orphaned snapshots;
    the ids of the images deleted (one that changed since the listing is left, with a line)."""
    deleted = []
    for image in doomed:
        snapshot_ids = delete.delete_backup(ctx.cloud, image, ctx.server_id, volume_ids)
        if snapshot_ids is None:        # it changed since the listing: the line says how
            continue
        deleted.append(image["id"])
        log.info(f"Prune: deleted {image.get('name')} ({image['id']})"
                 + (f" and its {len(snapshot_ids)} volume snapshot(s)." if snapshot_ids else "."))
    for snapshot in orphaned:
        ctx.cloud.delete_volume_snapshot(snapshot["id"])
        log.info(f"Prune: deleted orphaned volume snapshot {snapshot['id']}.")
    if deleted or orphaned:
        log.log(SUCCESS, f"Prune: {len(deleted)} image(s) and {len(orphaned)} orphaned volume "
                         "snapshot(s) deleted.")
    return deleted


def orphaned_snapshots(ctx, images):
    """Our marked volume snapshots of this server that no remaining image names; none when the
    cloud has no Cinder, a warning when it cannot be read."""
    if not ctx.cloud.has_volume_service():
        return []
    try:
        return volumes.orphans(ctx.cloud.volume_snapshots(), images, ctx.server_id)
    except CloudError as err:
        log.warning(f"cannot look for orphaned volume snapshots: {err}")
        return []


def server_volumes(ctx):
    """The volumes attached to the server as Nova lists them: the snapshots of them that a
    backup names are its own. None, with a warning, when Nova cannot say (the server is gone):
    only our marks then tell a backup's snapshots (backup/delete.py)."""
    try:
        server = ctx.cloud.get_server(ctx.server_id)
    except (IdentityError, CloudError) as err:
        log.warning(f"cannot read the volumes of server {ctx.server_id} ({err}): only the volume "
                    "snapshots that carry our marks for a backup are deleted with it")
        return None
    return volumes.attached_volume_ids(server)
