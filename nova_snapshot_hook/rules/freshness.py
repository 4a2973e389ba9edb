"""Are backups still being made? The one verdict on a series of a server's backups, for `status`
(this server) and `fleet status` (each selected server, from a management host). Pure, no I/O.

A backup is an image with a series (inventory.series_of, not a plain snapshot); only `active`
ones count. Each series gets one verdict, the same names and exit codes in both commands:

  verdict   when                                                                       exit
  failing   the series' last attempt failed and no backup is newer: a failed attempt     2
            in the attempts file (`status` only: the file is on the server), or the
            series' newest image is `killed` (Glance's failed upload)
  stale     the newest backup is older than the series' age limit, or there is none      1
  off       a scheduled tier whose count is 0 (`status` only)                            0
  ok        otherwise, and always for a series without an age limit                      0

The age limit: for `status`, a scheduled tier's schedule.STALE_AFTER plus [schedule] max_delay;
the apt series and by-hand series have none (nobody knows when they are due). For `fleet status`,
--max-age when given, else none. `status` also lets a higher tier's backup count for a lower
tier (one scheduled run takes one image, of the highest tier due: Sunday's backup is a weekly),
and a tier without any backup is stale only once scheduled backups have existed for longer than
its limit (the lowest enabled tier: once there is no scheduled backup at all).

Exit status, the monitoring-plugin convention: the highest of the verdicts' (0 OK without any
series, 1 WARNING, 2 CRITICAL); 3 UNKNOWN when the status cannot be read (the commands' own).
"""

from . import inventory, volumes
from .outcome import FAILED
from ..errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING
from ..text import format_time, human_age
from .schedule import STALE_AFTER, TIERS

OK, OFF, STALE, FAILING = "ok", "off", "stale", "failing"
EXIT = {OK: EXIT_OK, OFF: EXIT_OK, STALE: EXIT_WARNING, FAILING: EXIT_CRITICAL}
FAILED_UPLOAD = "killed"


class SeriesFreshness:
    """One series of one server: its newest active backup (`last`), its newest image of any
    status (`newest`), how many are active, its age limit and last attempt, and the verdict."""

    __slots__ = ("series", "last", "newest", "active", "limit", "count", "attempt", "verdict",
                 "why", "size")

    def __init__(self, series, members=(), limit=None, count=None, attempt=None):
        """`members`: the series' images, newest first."""
        active = [image for image in members if image.get("status") == "active"]
        self.series, self.limit, self.count, self.attempt = series, limit, count, attempt
        self.last = active[0] if active else None
        self.newest = members[0] if members else None
        self.active = len(active)
        self.size = volumes.kept_size(members)     # (Glance bytes, volume snapshot GB)
        self.verdict, self.why = OK, ""

    @property
    def last_time(self):
        return inventory.parse_time(self.last.get("created_at")) if self.last else None

    def age(self, now):
        last = self.last_time
        return None if last is None else max(0.0, now - last)

    def failure(self):
        """Why the series' last attempt failed, with no backup since; or None."""
        attempt = self.attempt
        if attempt and attempt.get("outcome") == FAILED and attempt["time"] > (self.last_time or 0):
            return (f"the last attempt ({format_time(attempt['time'])} UTC, "
                    f"{attempt.get('trigger') or '?'}) failed: {attempt.get('error') or '?'}")
        newest = self.newest or {}
        if newest.get("status") == FAILED_UPLOAD:
            return (f"the newest image ({newest.get('id')}, "
                    f"{format_time(inventory.parse_time(newest.get('created_at')))} UTC) "
                    f"is {FAILED_UPLOAD}")
        return None

    def decide(self, now, newest=None):
        """Set the verdict against the age limit. `newest`: the time of the newest backup that
        counts for this series when not its own (a higher tier's)."""
        failure = self.failure()
        newest = self.last_time if newest is None else newest
        if failure:
            self.verdict, self.why = FAILING, failure
        elif self.limit is None:
            self.verdict, self.why = OK, "no age limit" if newest is not None else "no backup, no age limit"
        elif newest is None:
            self.verdict, self.why = STALE, "no backup"
        else:
            age = max(0.0, now - newest)
            self.verdict = STALE if age > self.limit else OK
            self.why = f"newest backup {human_age(age)} old, limit {human_age(self.limit)}"
        return self

    def as_dict(self, now):
        """One series as `status --json` gives it."""
        age = self.age(now)
        return {"series": self.series, "verdict": self.verdict, "why": self.why,
                "count": self.count, "limit_seconds": self.limit, "backups": self.active,
                "bytes": self.size[0], "volume_snapshot_gb": self.size[1],
                "last_backup": {"id": self.last.get("id"), "name": self.last.get("name"),
                                "created_at": self.last.get("created_at"),
                                "age_seconds": int(age) if age is not None else None}
                if self.last else None,
                "newest_status": self.newest.get("status") if self.newest else None,
                "last_attempt": self.attempt}


def backups_by_series(images):
    """{series: its images newest first} of the backups among `images`."""
    by_series = {}
    for image in inventory.newest_first(images):
        series = inventory.series_of(image)
        if series not in ("snapshot", "-"):
            by_series.setdefault(series, []).append(image)
    return by_series


def exit_code(rows):
    return max((EXIT[row.verdict] for row in rows), default=EXIT_OK)


# -- `status`: this server's series, with the schedule's tiers -----------------------------------
def limit_of(tier, max_delay):
    return STALE_AFTER[tier] + max(0, int(max_delay))


def judge(images, attempts, server_id, counts, apt_series, apt_enabled, max_delay, now):
    """[SeriesFreshness] in display order: the tiers, the apt series, then the others by name."""
    by_series = backups_by_series(images)
    mine = {series: attempt for series, attempt in attempts.items()
            if attempt.get("server") in (None, server_id)}
    names = set(by_series) | set(mine) | {tier for tier in TIERS if counts.get(tier, 0) > 0}
    if apt_enabled:
        names.add(apt_series)
    order = [tier for tier in TIERS if tier in names]
    order += [apt_series] if apt_series in names and apt_series not in order else []
    order += sorted(names - set(order))
    rows = [SeriesFreshness(series, by_series.get(series, []), count=counts.get(series),
                            limit=limit_of(series, max_delay) if series in TIERS else None,
                            attempt=mine.get(series)) for series in order]
    newest = {row.series: row.last_time for row in rows if row.series in TIERS}
    scheduled = [inventory.parse_time(image.get("created_at")) for tier in TIERS
                 for image in by_series.get(tier, ()) if image.get("status") == "active"]
    first = min((t for t in scheduled if t is not None), default=None)
    for row in rows:
        _judge_in_schedule(row, newest, first, counts, now)
    return rows


def _judge_in_schedule(row, newest, first, counts, now):
    """`newest`: each tier's newest backup time; `first`: the oldest scheduled backup's."""
    if row.series not in TIERS or row.failure():
        row.decide(now)
        return
    if counts.get(row.series, 0) < 1:
        row.verdict, row.why = OFF, f"[schedule] {row.series} = 0"
        return
    higher = [newest.get(tier) for tier in TIERS[TIERS.index(row.series):]]
    higher = max((t for t in higher if t is not None), default=None)
    if higher is not None:
        row.decide(now, newest=higher)
        if row.last_time != higher:
            row.why += " (a higher tier's backup counts)"
        return
    # No backup of this tier or a higher one: due once the schedule has run for the tier's limit.
    if first is None:
        lowest = next((tier for tier in TIERS if counts.get(tier, 0) > 0), None)
        row.verdict, row.why = ((STALE, "no scheduled backup at all yet") if row.series == lowest
                                else (OK, "none yet"))
        return
    if now - first > row.limit:
        row.verdict = STALE
        row.why = (f"none, although scheduled backups exist since "
                   f"{format_time(first, seconds=False)} UTC (limit {human_age(row.limit)})")
    else:
        row.verdict = OK
        row.why = f"none yet; due by {format_time(first + row.limit, seconds=False)} UTC"


# -- the Prometheus textfile collector ----------------------------------------------------------
METRICS = (
    ("last_backup_timestamp_seconds",
     "Creation time of the newest active backup image of the series (Unix time)."),
    ("backups", "Active backup images of the series."),
    ("last_attempt_success", "1 if the last backup attempt of the series succeeded, else 0."),
    ("last_attempt_timestamp_seconds", "Time of the last backup attempt of the series."),
    ("series_status", "0 fine (or tier off), 1 stale, 2 failing."),
)
PREFIX = "nova_snapshot_hook_"


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def prometheus_text(rows, now, code, cloud_up=True, credential_expires=None):
    """The node-exporter textfile-collector file: gauges per series, then the overall state;
    `credential_expires`: when the application credential expires (None: never, or none)."""
    values = {name: [] for name, _ in METRICS}
    for row in rows:
        label = f'{{series="{_label(row.series)}"}}'
        if row.last_time is not None:
            values["last_backup_timestamp_seconds"].append((label, f"{row.last_time:.0f}"))
        if cloud_up:
            values["backups"].append((label, str(row.active)))
        if row.attempt:
            values["last_attempt_success"].append(
                (label, "0" if row.attempt.get("outcome") == FAILED else "1"))
            values["last_attempt_timestamp_seconds"].append((label, f"{row.attempt['time']:.0f}"))
        if cloud_up:
            values["series_status"].append((label, str(EXIT[row.verdict])))
    lines = []
    for name, text in METRICS:
        if not values[name]:
            continue
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} gauge"]
        lines += [f"{PREFIX}{name}{label} {value}" for label, value in values[name]]
    if credential_expires is not None:
        lines += [f"# HELP {PREFIX}credential_expiry_timestamp_seconds When the application "
                  "credential in use expires (Unix time; Keystone's expires_at). Absent when it "
                  "never expires, or for a password.",
                  f"# TYPE {PREFIX}credential_expiry_timestamp_seconds gauge",
                  f"{PREFIX}credential_expiry_timestamp_seconds {credential_expires:.0f}"]
    lines += [f"# HELP {PREFIX}cloud_up 1 if the cloud answered the status query, else 0.",
              f"# TYPE {PREFIX}cloud_up gauge", f"{PREFIX}cloud_up {1 if cloud_up else 0}",
              f"# HELP {PREFIX}status Exit status of 'nova-snapshot-hook status': 0 fine, "
              "1 stale (or the credential expires within 30 days), 2 failing (or the "
              "credential expires within 7 days), 3 unknown (the backups cannot be read).",
              f"# TYPE {PREFIX}status gauge", f"{PREFIX}status {code}",
              f"# HELP {PREFIX}status_timestamp_seconds When the status was taken (Unix time).",
              f"# TYPE {PREFIX}status_timestamp_seconds gauge",
              f"{PREFIX}status_timestamp_seconds {now:.0f}"]
    return "\n".join(lines) + "\n"
