"""The `prune` command: apply the retention rules to our own images of this server."""

from .. import context
from ..rules import naming, retention
from ..errors import EXIT_OK, ConfigError
from .list import SERVER_HELP
from ..log import SUCCESS, log


def _count(text):
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more: {text!r}")
    return value


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
    cmd.add_argument("--keep", type=_count, metavar="N",
                     help="how many to keep of a series that has no count in the settings "
                          "(default: keep them all)")
    cmd.add_argument("--series", metavar="SERIES", action="append",
                     help="prune only this series, repeatable (default: every series)")
    cmd.add_argument("--server", metavar="ID", help=SERVER_HELP)
    cmd.set_defaults(run=run, json=False)


def run(args):
    settings = context.load(args, use_syslog=args.delete)
    for series in args.series or ():
        problem = naming.check_series(series)
        if problem:
            raise ConfigError(f"bad --series '{series}': {problem}")
    from ..backup.take import watchdog
    with watchdog(settings.timeout):
        link = context.connect(args, settings)
        images = link.cloud.list_images(**{naming.SERVER_PROPERTY: link.server_id})
        plans = retention.plan(images, link.server_id, retention.configured_counts(settings),
                               keep=args.keep, only=tuple(args.series or ()))
        for line in retention.plan_lines(plans):
            context.say(line)
        doomed = retention.to_delete(plans)
        if not args.delete:
            if doomed:
                context.say(f"Dry run: {len(doomed)} image(s) would be deleted; add --delete to delete "
                      "them.")
            return EXIT_OK
        for image in doomed:
            link.cloud.delete_image(image["id"])
            log.info(f"Prune: deleted {image.get('name')} ({image['id']}).")
    if doomed:
        log.log(SUCCESS, f"Prune: {len(doomed)} image(s) deleted.")
    return EXIT_OK
