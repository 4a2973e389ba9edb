"""The `pin` and `unpin` commands: keep one backup for good, out of every rotation, and give it
back (rules/pinning.py says how the series stays at its count)."""

import json

from ..context import say
from ..errors import EXIT_OK, ConfigError
from ..log import SUCCESS, log
from ..rules import pinning
from ..rules.naming import SERIES_PROPERTY
from . import lookup
from .options import add_server


def add_parser(commands):
    cmd = commands.add_parser(
        "pin", help="keep a backup image for good, out of every rotation",
        description="Take one of this server's backups (an image id or exact name) out of every "
                    "rotation until 'unpin': it moves to the series 'pinned' (and, for a "
                    "createBackup image, Nova's backup_type 'pinned', so Nova's own rotation no "
                    "longer counts it) and is protected in Glance. Its series goes on keeping "
                    "its count of other backups. A volume-backed backup keeps its Cinder "
                    "snapshots.")
    cmd.add_argument("image", metavar="IMAGE", help="the backup image's id or exact name")
    add_server(cmd)
    cmd.add_argument("--json", action="store_true",
                     help="print the pinned image as JSON on stdout")
    cmd.set_defaults(run=run_pin, syslog=True)

    cmd = commands.add_parser(
        "unpin", help="give a pinned backup image back to its series' rotation",
        description="Give a pinned backup (an image id or exact name) back to the series it "
                    "came from and unprotect it: the next rotation of that series counts it "
                    "again, and deletes it when it is among the oldest beyond the count.")
    cmd.add_argument("image", metavar="IMAGE", help="the pinned image's id or exact name")
    add_server(cmd)
    cmd.add_argument("--json", action="store_true",
                     help="print the unpinned image as JSON on stdout")
    cmd.set_defaults(run=run_unpin, syslog=True)


def run_pin(ctx, args):
    image, patched = _apply(ctx, args.image, "pin", pinning.pin_refusals, pinning.pin_patch,
                            fix="'nova-snapshot-hook list' shows this server's backups")
    log.log(SUCCESS, f"Pinned {image.get('name')} ({image['id']}): out of series "
                     f"{image.get(SERIES_PROPERTY)} for good, protected.")
    if args.json:
        say(json.dumps(pinning.record(patched), indent=1, sort_keys=True))
    else:
        say(f"To give it back to its rotation: nova-snapshot-hook unpin {image['id']}")
    return EXIT_OK


def run_unpin(ctx, args):
    image, patched = _apply(ctx, args.image, "unpin", pinning.unpin_refusals,
                            pinning.unpin_patch,
                            fix="'nova-snapshot-hook list' marks pinned backups with K")
    log.log(SUCCESS, f"Unpinned {image.get('name')} ({image['id']}): back in series "
                     f"{image.get(pinning.FROM_PROPERTY)}, unprotected; its rotation counts it "
                     "again.")
    if args.json:
        say(json.dumps(pinning.record(patched), indent=1, sort_keys=True))
    return EXIT_OK


def _apply(ctx, text, verb, refusals, patch, fix):
    """Find the image, refuse what the rules refuse, send the one JSON patch; the image as it
    was before, and as Glance answered the patch (what --json reports: Glance's word)."""
    with ctx.bounded(ctx.settings.timeout):
        image = lookup.find_image(ctx, text)
        problems = refusals(image, ctx.server_id)
        if problems:
            raise ConfigError(f"refusing to {verb}: " + "; ".join(problems), fix=fix)
        patched = ctx.cloud.patch_image(image["id"], patch(image), doing=f"{verb}ning image")
    return image, patched
