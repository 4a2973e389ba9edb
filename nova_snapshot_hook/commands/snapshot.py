"""The `snapshot` command: a backup image of this server now, by hand."""

import json
import os

from ..errors import EXIT_OK, HookError
from ..log import log
from ..text import call_lines
from .options import (DEFAULT_ROTATION, DEFAULT_SERIES, METHOD_HELP, add_backup_options,
                      add_server, checked_backup_options)

HELP = {
    "series": f"the series, Nova's backup_type (default {DEFAULT_SERIES})",
    "rotation": f"how many backups of the series to keep, at least 1 (default {DEFAULT_ROTATION})",
    "timeout": "give up after this long, waits included (default: settings, 600)",
    "wait": "return once the disk is captured (default), the image is active, or right after "
            "the request",
    "method": METHOD_HELP,
}


def add_parser(commands):
    cmd = commands.add_parser("snapshot", help="take a backup image of this server now",
                              description="Take a Nova backup image of this server now. Nova "
                              "rotates the series (BACKUP_TYPE): the oldest backup goes only "
                              "after the new one succeeded.")
    add_backup_options(cmd, HELP, lambda cmd: (
        cmd.add_argument("--name", help="image name (default HOST-SERIES-UTCTIME)"),
        add_server(cmd)))
    cmd.add_argument("--dry-run", action="store_true", help="print the request, send nothing")
    cmd.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    cmd.set_defaults(run=run, syslog=True)


def run(ctx, args):
    from ..backup.snapshotter import SnapshotRequest, report
    settings = ctx.settings
    timeout = checked_backup_options(args, settings)
    request = SnapshotRequest(series=args.series, rotation=args.rotation, name=args.name or "",
                              wait=args.wait, method=args.method or settings.method,
                              poll_interval=settings.poll_interval)
    if args.dry_run:
        return dry_run(ctx, request, args.json)

    from ..backup.take import take_backup
    with ctx.bounded(timeout):
        result = take_backup(ctx, request)
    if args.json:
        print(json.dumps(result.as_dict(), sort_keys=True))
    else:
        report(result)
    return EXIT_OK


def dry_run(ctx, request, json_output):
    """Print what would be sent. Nothing leaves the machine: not even the metadata service."""
    from ..backup.snapshotter import planned_call
    try:
        server_id, _ = ctx.resolve_server(offline=True)
    except HookError as err:
        log.warning(f"{err}; showing the request with a placeholder")
        server_id = "<server-id>"
    call = planned_call(server_id, os.uname().nodename, request)
    if json_output:
        print(json.dumps(call.as_dict(), sort_keys=True))
    else:
        for line in call_lines([call]):
            print(line)
    return EXIT_OK
