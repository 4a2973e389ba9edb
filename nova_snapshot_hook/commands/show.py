"""The `show` command: every detail of one backup image, its properties included."""

import json
import time

from .. import context
from ..rules import inventory
from ..errors import EXIT_OK
from .list import SERVER_HELP


def add_parser(commands):
    cmd = commands.add_parser(
        "show", help="show every detail of one backup image",
        description="Show every detail of one backup image: what it is (series, trigger, the "
                    "apt change it preceded and its outcome, protection, capture), then every "
                    "field and property Glance has for it. IMAGE is an image id or an exact "
                    "name; a name that several images share is refused unless exactly one of "
                    "them belongs to this server. Credentials in a location URL are masked.")
    cmd.add_argument("image", metavar="IMAGE", help="the image id or exact name")
    cmd.add_argument("--server", metavar="ID", help=SERVER_HELP)
    cmd.add_argument("--json", action="store_true",
                     help="print the image as a JSON object on stdout")
    cmd.set_defaults(run=run)


def run(args):
    settings = context.load(args)
    from ..backup.take import watchdog
    with watchdog(settings.timeout):
        link = context.connect(args, settings)
        image = context.find_image(link, args.image)
    if args.json:
        context.say(json.dumps(inventory.scrub(image), indent=1, sort_keys=True))
    else:
        for line in inventory.detail_lines(image, link.server_id, now=time.time()):
            context.say(line)
    return EXIT_OK
