"""The `status` command: the last backup of each series, its age and state, and when the
application credential expires (rules/expiry.py); exit codes for monitoring (0 fine, 1 stale or
the credential expires within 30 days, 2 failing or within 7, 3 unknown); optionally a Prometheus
textfile-collector file."""

import json
import time

from ..backup import attempts
from .. import views
from ..context import say
from ..files import atomic_write
from ..rules import freshness, inventory
from . import lookup
from .options import add_server, monitoring
from ..errors import EXIT_OK, EXIT_UNKNOWN, ConfigError, HookError
from ..log import log


def _moment(text):
    import argparse
    epoch = inventory.parse_time(text.strip().replace(" ", "T"))
    if epoch is None:
        raise argparse.ArgumentTypeError(f"not a UTC time (YYYY-MM-DDTHH:MM[:SS]): {text!r}")
    return epoch


def add_parser(commands):
    cmd = commands.add_parser(
        "status", help="is each series backed up recently? exit 0 fine, 1 stale, 2 failing, "
                  "3 unknown",
        description="Show the last backup of each series of this server, its age and state, "
                    "and the outcome of the series' last attempt on this host. A scheduled tier "
                    "is stale when its newest backup (or a higher tier's) is older than 26 hours "
                    "for daily, 8 days for weekly, 32 days for monthly, 367 days for yearly, "
                    "each plus [schedule] max_delay; the apt series and by-hand series are never "
                    "stale. A series is failing when its last attempt failed. An application "
                    "credential's expiry is read from Keystone: within 30 days it is a warning, "
                    "within 7 days (or expired) critical; a password has none, and an expiry "
                    "that cannot be read is said and changes nothing. Exit status, as a "
                    "monitoring plugin: 0 fine, 1 a series is stale or the credential expires "
                    "within 30 days, 2 a series is failing or the credential expires within 7 "
                    "days, 3 the status cannot be read.")
    cmd.add_argument("--prometheus", metavar="FILE",
                     help="also write the metrics to FILE for node-exporter's textfile collector "
                          "(replaced atomically)")
    cmd.add_argument("--at", type=_moment, metavar="TIME",
                     help="judge the ages as of this UTC time, YYYY-MM-DDTHH:MM (default: now)")
    cmd.add_argument("--json", action="store_true", help="print the status as JSON on stdout")
    add_server(cmd)
    cmd.set_defaults(run=run)
    monitoring(cmd)


def run(ctx, args):
    settings = ctx.settings
    now = args.at if args.at is not None else time.time()
    recorded = attempts.read()
    counts = {tier: getattr(settings, tier) for tier in freshness.TIERS}
    counts[settings.apt_series] = settings.apt_rotation

    try:
        with ctx.bounded(settings.timeout):
            images = lookup.server_images(ctx)
    except HookError as err:
        log.error(f"cannot read the backups: {err}")
        if args.prometheus:
            server_id = args.server or settings.server_id or None
            healths = freshness.judge([], recorded, server_id, counts, settings.apt_series, False,
                                   settings.schedule_max_delay, now)
            write_atomically(args.prometheus, freshness.prometheus_text(
                healths, now, EXIT_UNKNOWN, cloud_up=False))
        return EXIT_UNKNOWN

    healths = freshness.judge(images, recorded, ctx.server_id, counts, settings.apt_series,
                           settings.apt_enabled, settings.schedule_max_delay, now)
    credential, judged, error = credential_expiry(ctx, now)
    code = max(freshness.exit_code(healths), judged.exit_code if judged else EXIT_OK)
    if args.prometheus:
        write_atomically(args.prometheus, freshness.prometheus_text(
            healths, now, code, credential_expires=judged.expires if judged else None))
    if args.json:
        report = {"server": ctx.server_id, "time": int(now), "exit_status": code,
                  "series": [h.as_dict(now) for h in healths],
                  "credential": expiry_record(credential, judged, error)}
        say(json.dumps(report, indent=1, sort_keys=True))
    else:
        for line in views.status_lines(healths, now):
            say(line)
        if judged:
            say(views.status_credential_line(credential, judged,
                                             ctx.cloud.replace_credential_fix()))
    return code


def credential_expiry(ctx, now):
    """(Keystone's record of the application credential, its expiry.Expiry, None), or (None,
    None, the error) when it cannot be read: said, and the verdict on the backups stays what
    they make it. (None, None, None) for a password. One GET, after the backups were read."""
    try:
        with ctx.bounded(ctx.settings.timeout):
            found = lookup.credential_expiry(ctx.cloud, now)
    except HookError as err:
        log.warning(f"cannot read the credential's expiry: {err}")
        return None, None, str(err)
    return (found or (None, None)) + (None,)


def expiry_record(credential, judged, error):
    """`status --json`'s "credential": null for a password."""
    if error:
        return {"error": error}
    if not judged:
        return None
    return {"id": credential.get("id"), "name": credential.get("name"),
            "expires_at": credential.get("expires_at"), "days_left": judged.days_left,
            "verdict": judged.verdict, "exit_status": judged.exit_code}


def write_atomically(path, text):
    """The metrics file, replaced whole: the collector never reads half a file (the temporary
    name does not end in .prom, so the collector ignores it meanwhile)."""
    try:
        atomic_write(path, text, mode=0o644, sync=True)
    except OSError as err:
        raise ConfigError(f"cannot write the metrics file {path}: {err.strerror or err}",
                          fix="check --prometheus: its directory must exist and be writable") from None
