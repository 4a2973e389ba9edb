"""The `scheduled` command: the daily run from cron or the systemd timer.

At most one image per run: the highest tier due (schedule.py), in its own series, rotated by Nova
with the tier's count. The run waits this host's delay first, so a fleet does not call the API in
the same second. From cron (`-q`) it prints nothing on success, and nothing at all while no
credentials exist: cron mails whatever a job prints.
"""

import datetime
import os
import time

from .. import paths
from ..rules import schedule
from ..errors import EXIT_OK, ConfigError
from ..files import FileLock, atomic_write
from ..log import log

sleep = time.sleep          # the delay; a module attribute, so tests can replace it alone


def _date(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        import argparse
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_parser(commands):
    cmd = commands.add_parser(
        "scheduled", help="the daily scheduled backup: one image, of the highest tier due",
        description="The scheduled backup, run once a day by cron or the systemd timer. It takes "
                    "at most one image: the yearly on 1 January, the monthly on the 1st, the weekly "
                    "on Sunday, else the daily, each its own series rotated with its count from "
                    "[schedule]; a tier with count 0 is off and the next lower one is taken. A tier "
                    "whose day was missed is taken by the next run. It first waits this host's "
                    "share of [schedule] max_delay.")
    cmd.add_argument("--no-delay", action="store_true",
                     help="start at once, without this host's delay")
    cmd.add_argument("--tier", choices=schedule.TIERS,
                     help="take this tier whatever the date says (a by-hand run; not recorded as "
                          "the day's scheduled run)")
    cmd.add_argument("--date", type=_date, metavar="YYYY-MM-DD",
                     help="with --dry-run: decide as if today were this date")
    cmd.add_argument("--dry-run", action="store_true",
                     help="show the tier, the delay and the request; wait for nothing, send nothing")
    cmd.set_defaults(run=run, syslog=lambda args: not args.dry_run)


def tier_counts(settings):
    return {tier: getattr(settings, tier) for tier in schedule.TIERS}


def decide(args, settings, today, last):
    """(tier, why): the tier to take, or None and the reason why nothing is taken."""
    counts = tier_counts(settings)
    if args.tier:
        if counts[args.tier] < 1:
            raise ConfigError(f"the {args.tier} tier is off ([schedule] {args.tier} = 0)",
                              fix=f"set [schedule] {args.tier} in {settings.path}, or run "
                                  "'nova-snapshot-hook snapshot SERIES ROTATION'")
        return args.tier, "asked for with --tier"
    if last == today:
        return None, f"today's scheduled backup was already taken ({last.isoformat()})"
    tier = schedule.pick_tier(today, counts, last)
    due = schedule.due_tiers(today, last)
    if tier is None:
        return None, (f"no enabled tier is due (due: {', '.join(due)}; every one has count 0 in "
                      f"[schedule] of {settings.path})")
    return tier, f"due: {', '.join(due)}"


def read_state(path=None):
    try:
        with open(path or paths.schedule_state(), encoding="utf-8") as handle:
            return read_state_from(handle)
    except OSError:
        return None, None


def run(ctx, args):
    settings = ctx.settings
    if args.date and not args.dry_run:
        raise ConfigError("--date goes only with --dry-run")
    if args.dry_run:
        return dry_run(ctx, args, settings)

    from ..cloud.credentials import CredentialsNotConfigured
    try:
        ctx.credentials
    except CredentialsNotConfigured as err:
        # Not configured yet: no output for cron to mail (INFO is hidden under -q).
        log.info(f"No scheduled backup: {err}.")
        return EXIT_OK

    today = datetime.date.today()      # local time, like cron's and the timer's 01:01
    state = FileLock(paths.schedule_state())   # the state file is its own lock, for the whole run
    if not state.try_acquire():
        log.info(f"No scheduled backup: another scheduled run holds {state.path}.")
        return EXIT_OK
    with state:
        last, _ = read_state_from(state.handle)
        tier, why = decide(args, settings, today, last)
        if tier is None:
            log.info(f"No scheduled backup: {why}.")
            return EXIT_OK
        if not args.no_delay:
            delay, _ = host_delay(settings)
            if delay:
                log.info(f"Scheduled {tier} backup: waiting {delay} s, this host's share of "
                         f"[schedule] max_delay ({settings.schedule_max_delay:.0f} s).")
                sleep(delay)

        from ..backup.snapshotter import SnapshotRequest, report
        from ..backup.take import take_backup
        request = SnapshotRequest(series=tier, rotation=getattr(settings, tier), wait="captured",
                                  method=settings.method, trigger="schedule",
                                  poll_interval=settings.poll_interval)
        with ctx.bounded(settings.schedule_wait):
            result = take_backup(ctx, request)
        report(result)
        if not args.tier:
            write_state(state.path, today, tier)
    return EXIT_OK


def host_delay(settings):
    host_id, source = host_identity(settings.identity_root, os.uname().nodename)
    return schedule.host_delay(host_id, settings.schedule_max_delay), source


def host_identity(root, hostname):
    """(id, source) behind this host's delay: /etc/machine-id under `root`, else D-Bus's copy,
    else `hostname`."""
    for path in ("etc/machine-id", "var/lib/dbus/machine-id"):
        try:
            with open(os.path.join(root, path), encoding="ascii", errors="replace") as handle:
                value = handle.read().strip()
        except OSError:
            continue
        # An image may ship an empty file, or "uninitialized", to be filled in at first boot.
        if value and value != "uninitialized":
            return value, "/" + path
    return hostname, "the host name"


def dry_run(ctx, args, settings):
    """What a run now would do, without waiting, without credentials, sending nothing."""
    today = args.date or datetime.date.today()
    last, last_tier = read_state()
    tier, why = decide(args, settings, today, last)
    counts = tier_counts(settings)
    print(f"Date: {today.isoformat()} ({today.strftime('%A')}); last scheduled backup: "
          + (f"{last.isoformat()} ({last_tier or 'unknown tier'})" if last else "none recorded"))
    print("Tiers: " + ", ".join(f"{t} {counts[t]}" if counts[t] else f"{t} off"
                                for t in schedule.TIERS) + f" (from {settings.path})")
    if tier is None:
        print(f"Would take no backup: {why}.")
        return EXIT_OK
    delay, source = host_delay(settings)
    print(f"Would take the {tier} backup ({why}): series {tier}, rotation {counts[tier]}.")
    if args.no_delay:
        print("Delay: none (--no-delay).")
    else:
        print(f"Delay: {delay} s of at most {settings.schedule_max_delay:.0f} s "
              f"([schedule] max_delay; derived from {source}).")
    from ..backup.snapshotter import SnapshotRequest
    from .snapshot import dry_run as show_request
    request = SnapshotRequest(series=tier, rotation=counts[tier], method=settings.method,
                              trigger="schedule")
    return show_request(ctx, request, json_output=False)


def read_state_from(handle):
    handle.seek(0)
    try:
        return schedule.parse_state(handle.read())
    except UnicodeDecodeError:
        return None, None


def write_state(path, day, tier):
    """Record the day's run: the file is replaced whole and synced (truncating it in place left
    it empty after a crash, so the next run took the day's backup again). A run waiting for the
    lock on the file the rename unlinks locks the new one instead (files.FileLock)."""
    # Keep the file's bits (an older install's 0644 lets a dry run read it), never group or
    # other write.
    mode = os.stat(path).st_mode & 0o755
    atomic_write(path, schedule.format_state(day, tier), mode=mode, sync=True)
