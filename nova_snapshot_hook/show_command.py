"""The `show` command: every detail of one backup image, its properties included."""

import json
import time

from . import connection, inventory
from .errors import EXIT_OK
from .list_command import SERVER_HELP


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
    settings = connection.load(args)
    from .backup import watchdog
    with watchdog(settings.timeout):
        link = connection.connect(args, settings)
        image = connection.find_image(link, args.image)
    if args.json:
        connection.say(json.dumps(inventory.scrub(image), indent=1, sort_keys=True))
    else:
        for line in inventory.detail_lines(image, link.server_id, now=time.time()):
            connection.say(line)
    return EXIT_OK
