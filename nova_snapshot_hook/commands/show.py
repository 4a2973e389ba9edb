"""The `show` command: every detail of one backup image, its properties included."""

import json
import time

from .. import views
from ..context import say
from ..rules import inventory, volumes
from . import lookup
from .options import add_server
from ..errors import EXIT_OK


def add_parser(commands):
    cmd = commands.add_parser(
        "show", help="show every detail of one backup image",
        description="Show every detail of one backup image: what it is (series, trigger, the "
                    "apt change it preceded and its outcome, protection, pin, capture, the "
                    "Cinder snapshots of a volume-backed backup and their states), then every "
                    "field and property Glance has for it. IMAGE is an image id or an exact "
                    "name; a name that several images share is refused unless exactly one of "
                    "them belongs to this server. Credentials in a location URL are masked.")
    cmd.add_argument("image", metavar="IMAGE", help="the image id or exact name")
    add_server(cmd)
    cmd.add_argument("--json", action="store_true",
                     help="print the image as a JSON object on stdout")
    cmd.set_defaults(run=run)


def run(ctx, args):
    with ctx.bounded(ctx.settings.timeout):
        image = lookup.find_image(ctx, args.image)
        snapshots = lookup.volume_snapshots(ctx, [image])
    if args.json:
        shown = inventory.scrub(image)
        if volumes.snapshot_ids(image):    # a volume-backed backup: Cinder's side, beside Glance's
            shown["volume_snapshots"] = inventory.snapshot_records(image, snapshots)
        say(json.dumps(shown, indent=1, sort_keys=True))
    else:
        for line in views.detail_lines(image, ctx.server_id, now=time.time(), snapshots=snapshots):
            say(line)
    return EXIT_OK
