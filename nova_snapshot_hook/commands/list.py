"""The `list` command: this server's backup images of every series, newest first."""

import json

from .. import context
from ..rules import inventory
from ..errors import EXIT_OK

SERVER_HELP = "this server's id (default: settings, then detect)"


def add_parser(commands):
    cmd = commands.add_parser(
        "list", help="list this server's backup images, newest first",
        description="List this server's backup images of every series, newest first: ours and "
                    "any other backup or snapshot Nova made of it. Each line gives the creation "
                    "time (UTC), the series, the status, the size, marks, the id and the name; "
                    "under a backup taken before apt changed packages, that change and whether "
                    "the apt run succeeded. Mark P: protected from rotation; mark !: the capture "
                    "is not guaranteed to precede what followed. Attached volumes are not in the "
                    "images: the command warns when the server has any.")
    cmd.add_argument("--server", metavar="ID", help=SERVER_HELP)
    cmd.add_argument("--json", action="store_true", help="print the images as a JSON array on stdout")
    cmd.set_defaults(run=run)


def run(args):
    settings = context.load(args)
    from ..backup.take import watchdog
    with watchdog(settings.timeout):
        link = context.connect(args, settings)
        context.warn_about_volumes(context.server_or_none(link))
        images = context.server_images(link)
    if args.json:
        records = [inventory.record(image, link.server_id)
                   for image in inventory.newest_first(images)]
        context.say(json.dumps(records, indent=1, sort_keys=True))
    else:
        for line in inventory.list_lines(images, link.server_id):
            context.say(line)
    return EXIT_OK
