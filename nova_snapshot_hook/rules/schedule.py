"""Scheduled backups: which tier a daily run takes, and this host's delay. Pure functions, no I/O:
the host's identity behind the delay is read by the `scheduled` command (commands/scheduled.py).

One run a day takes at most one image, of the highest tier due: yearly (1 January), monthly (the
1st), weekly (Sunday), else daily. Each tier is its own Nova series (`daily`, `weekly`, `monthly`,
`yearly`) that Nova's createBackup rotates with the tier's count; a count of 0 switches the tier
off, and the next lower enabled tier due is taken instead. So the four series never collide, and
no image is ever taken twice for the same point in time.

A tier is due when its period began since the last successful scheduled run: a Sunday missed
(machine off, cloud down) makes Monday's run take the weekly. Without a record of a last run, the
calendar alone decides (no surprise yearly on the day of the install).
"""

import datetime
import hashlib

# The one list of tiers, lowest first: a higher tier wins when several are due.
TIERS = ("daily", "weekly", "monthly", "yearly")
HOUR, DAY = 3600, 86400
# A tier's newest backup is stale once older than this (plus [schedule] max_delay): its period
# and a margin for a late run, so one run that comes a little later than the last is no alarm.
STALE_AFTER = {"daily": 26 * HOUR, "weekly": 8 * DAY, "monthly": 32 * DAY, "yearly": 367 * DAY}
SUNDAY = 6          # date.weekday()
DELAY_KEY = b"nova-snapshot-hook/schedule-delay\0"


def period_start(tier, day):
    """The first day of the tier's period that contains `day`."""
    if tier == "daily":
        return day
    if tier == "weekly":
        return day - datetime.timedelta(days=(day.weekday() - SUNDAY) % 7)
    if tier == "monthly":
        return day.replace(day=1)
    if tier == "yearly":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown tier {tier!r}")


def due_tiers(today, last=None):
    """The tiers due on `today`, lowest first: those whose period began after `last` (the day of the
    last successful scheduled run), or, without a usable `last`, on `today` itself."""
    if last is None or last >= today:
        since = today
    else:
        since = last + datetime.timedelta(days=1)
    return tuple(tier for tier in TIERS if period_start(tier, today) >= since)


def pick_tier(today, counts, last=None):
    """The tier one run takes: the highest due tier whose count is above 0, or None.

    `counts` maps a tier to its rotation ([schedule] daily, weekly, ...); 0 means off."""
    for tier in reversed(due_tiers(today, last)):
        if counts.get(tier, 0) > 0:
            return tier
    return None


def host_delay(host_id, max_delay):
    """This host's delay in whole seconds, in [0, max_delay): the same every day for one host,
    spread evenly over a fleet. The id goes through a keyed hash, so it is never exposed."""
    if not host_id or max_delay < 1:
        return 0
    digest = hashlib.sha256(DELAY_KEY + host_id.encode("utf-8", "replace")).digest()
    # Integer arithmetic: a 48-bit fraction of the whole seconds, so never max_delay itself.
    return (int.from_bytes(digest[:6], "big") * int(max_delay)) >> 48


def parse_state(text):
    """(day, tier) of the last successful scheduled run from the state file's text, or (None, None)."""
    words = text.split()
    try:
        day = datetime.date.fromisoformat(words[0])
    except (IndexError, ValueError):
        return None, None
    tier = words[1] if len(words) > 1 and words[1] in TIERS else None
    return day, tier


def format_state(day, tier):
    return f"{day.isoformat()} {tier}\n"
