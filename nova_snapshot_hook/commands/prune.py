"""The `prune` command: apply the retention rules to our own images of this server."""

from .. import views
from ..context import say
from ..rules import naming, retention
from .options import add_server, check_series, whole_number
from ..errors import EXIT_OK
from ..log import SUCCESS, log


def add_parser(commands):
    cmd = commands.add_parser(
        "prune", help="delete our own surplus backup images (a dry run unless --delete)",
        description="Apply the retention rules to this server's images made by "
                    "nova-snapshot-hook, series by series: keep the newest active images, as many "
                    "as [apt] rotation says for the apt series, [schedule] daily, weekly, monthly "
                    "and yearly for those tiers, and --keep for any other series; never fewer "
                    "than one, never a protected image. Images in another status, and images "
                    "that are not ours, are left alone. Without --delete it only shows what it "
                    "would delete.")
    cmd.add_argument("--delete", action="store_true", help="really delete the images shown")
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
    with ctx.bounded(settings.timeout):
        images = ctx.cloud.list_images(**{naming.SERVER_PROPERTY: ctx.server_id})
        plans = retention.plan(images, ctx.server_id, retention.configured_counts(settings),
                               keep=args.keep, only=tuple(args.series or ()))
        for line in views.prune_lines(plans):
            say(line)
        doomed = retention.to_delete(plans)
        if not args.delete:
            if doomed:
                say(f"Dry run: {len(doomed)} image(s) would be deleted; add --delete to delete "
                      "them.")
            return EXIT_OK
        for image in doomed:
            ctx.cloud.delete_image(image["id"])
            log.info(f"Prune: deleted {image.get('name')} ({image['id']}).")
    if doomed:
        log.log(SUCCESS, f"Prune: {len(doomed)} image(s) deleted.")
    return EXIT_OK
