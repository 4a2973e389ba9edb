"""The `list` command: this server's backup images of every series, newest first."""

import json

from .. import views
from ..context import say
from ..rules import inventory
from . import lookup
from .options import add_server
from ..errors import EXIT_OK

def add_parser(commands):
    cmd = commands.add_parser(
        "list", help="list this server's backup images, newest first",
        description="List this server's backup images of every series, newest first: ours and "
                    "any other backup or snapshot Nova made of it. Each line gives the creation "
                    "time (UTC), the series, the status, the size, marks, the id and the name; "
                    "under a backup taken before apt changed packages, that change and whether "
                    "the apt run succeeded; under a volume-backed backup, its Cinder snapshots and "
                    "their states; then the size kept per series and in all. Mark P: protected "
                    "from rotation; K: pinned (kept for good); D: a deletion stopped half-way; !: "
                    "the capture is not guaranteed to precede what followed. Volumes attached to "
                    "an image-backed server are not in its images: the command warns when it has "
                    "any.")
    add_server(cmd)
    cmd.add_argument("--json", action="store_true", help="print the images as a JSON array on stdout")
    cmd.set_defaults(run=run)


def run(ctx, args):
    with ctx.bounded(ctx.settings.timeout):
        lookup.warn_about_volumes(lookup.server_or_none(ctx))
        images = lookup.server_images(ctx)
        snapshots = lookup.volume_snapshots(ctx, images)
    if args.json:
        records = [inventory.record(image, ctx.server_id, snapshots)
                   for image in inventory.newest_first(images)]
        say(json.dumps(records, indent=1, sort_keys=True))
    else:
        for line in views.list_lines(images, ctx.server_id, snapshots):
            say(line)
    return EXIT_OK
