"""The `status` command: the last backup of each series, its age and state; exit codes for
monitoring (0 fine, 1 stale, 2 failing); optionally a Prometheus textfile-collector file."""

import json
import os
import time

from ..backup import attempts
from .. import context
from ..rules import freshness, inventory
from ..errors import ConfigError, HookError
from .list import SERVER_HELP
from ..log import log


def _moment(text):
    import argparse
    epoch = inventory.parse_time(text.strip().replace(" ", "T"))
    if epoch is None:
        raise argparse.ArgumentTypeError(f"not a UTC time (YYYY-MM-DDTHH:MM[:SS]): {text!r}")
    return epoch


def add_parser(commands):
    cmd = commands.add_parser(
        "status", help="is each series backed up recently? exit 0 fine, 1 stale, 2 failing",
        description="Show the last backup of each series of this server, its age and state, "
                    "and the outcome of the series' last attempt on this host. A scheduled tier "
                    "is stale when its newest backup (or a higher tier's) is older than 26 hours "
                    "for daily, 8 days for weekly, 32 days for monthly, 367 days for yearly, "
                    "each plus [schedule] max_delay; the apt series and by-hand series are never "
                    "stale. A series is failing when its last attempt failed. Exit status: 0 "
                    "fine, 1 a series is stale, 2 a series is failing or the status cannot be "
                    "read.")
    cmd.add_argument("--prometheus", metavar="FILE",
                     help="also write the metrics to FILE for node-exporter's textfile collector "
                          "(replaced atomically)")
    cmd.add_argument("--at", type=_moment, metavar="TIME",
                     help="judge the ages as of this UTC time, YYYY-MM-DDTHH:MM (default: now)")
    cmd.add_argument("--json", action="store_true", help="print the status as JSON on stdout")
    cmd.add_argument("--server", metavar="ID", help=SERVER_HELP)
    cmd.set_defaults(run=run)


def run(args):
    settings = context.load(args)
    now = args.at if args.at is not None else time.time()
    recorded = attempts.read()
    counts = {tier: getattr(settings, tier) for tier in freshness.TIERS}
    counts[settings.apt_series] = settings.apt_rotation

    from ..backup.take import watchdog
    try:
        with watchdog(settings.timeout):
            link = context.connect(args, settings)
            images = context.server_images(link)
    except HookError as err:
        log.error(f"cannot read the backups: {err}")
        if args.prometheus:
            server_id = args.server or settings.server_id or None
            healths = freshness.judge([], recorded, server_id, counts, settings.apt_series, False,
                                   settings.schedule_max_delay, now)
            write_atomically(args.prometheus, freshness.prometheus_text(
                healths, now, freshness.EXIT_UNREADABLE, cloud_up=False))
        return freshness.EXIT_UNREADABLE

    healths = freshness.judge(images, recorded, link.server_id, counts, settings.apt_series,
                           settings.apt_enabled, settings.schedule_max_delay, now)
    code = freshness.exit_code(healths)
    if args.prometheus:
        write_atomically(args.prometheus, freshness.prometheus_text(healths, now, code))
    if args.json:
        report = {"server": link.server_id, "time": int(now), "exit_status": code,
                  "series": [h.as_dict(now) for h in healths]}
        context.say(json.dumps(report, indent=1, sort_keys=True))
    else:
        for line in freshness.status_lines(healths, now):
            context.say(line)
    return code


def write_atomically(path, text):
    """Write a sibling temporary file, then rename: the collector never reads half a file (its
    name does not end in .prom, so the collector ignores it meanwhile)."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as err:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise ConfigError(f"cannot write the metrics file {path}: {err.strerror or err}",
                          fix="check --prometheus: its directory must exist and be writable") from None
