"""Are backups still being made? The verdict of `status`, per series. Pure, no I/O.

Inputs: this server's images (Glance), the last attempt of each series (attempts.py), the
settings' counts, and `now`, so every verdict is testable at any moment.

- **failing**: the series' last attempt failed, and no backup of it is newer than that attempt.
- **stale** (scheduled tiers only, when their count is above 0): the newest active backup of the
  tier *or a higher one* is older than the tier's limit plus [schedule] max_delay: 26 hours for
  daily, 8 days weekly, 32 days monthly, 367 days yearly. A higher tier counts because one
  scheduled run takes one image, of the highest tier due: Sunday's backup is a weekly, not a
  daily. A tier without any backup is stale once scheduled backups have existed for longer than
  its limit; the lowest enabled tier is stale without any scheduled backup at all.
- The apt series and by-hand series are never stale: nobody knows when they are due.

Exit status: 0 fine, 1 some series stale, 2 some series failing (or the status cannot be read).
"""

from . import inventory
from ..backup.attempts import FAILED

TIERS = ("daily", "weekly", "monthly", "yearly")
HOUR, DAY = 3600, 86400
LIMITS = {"daily": 26 * HOUR, "weekly": 8 * DAY, "monthly": 32 * DAY, "yearly": 367 * DAY}
OK, OFF, STALE, FAILING = "ok", "off", "stale", "failing"
EXIT = {OK: 0, OFF: 0, STALE: 1, FAILING: 2}
EXIT_UNREADABLE = 2


class SeriesHealth:
    __slots__ = ("series", "count", "limit", "last", "newest", "active", "attempt", "verdict",
                 "why")

    def __init__(self, series, count=None, limit=None, last=None, newest=None, active=0,
                 attempt=None, verdict=OK, why=""):
        self.series, self.count, self.limit = series, count, limit
        self.last, self.newest, self.active = last, newest, active
        self.attempt, self.verdict, self.why = attempt, verdict, why

    @property
    def last_time(self):
        return inventory.parse_time(self.last.get("created_at")) if self.last else None

    def as_dict(self, now):
        last_time = self.last_time
        return {"series": self.series, "verdict": self.verdict, "why": self.why,
                "count": self.count, "limit_seconds": self.limit, "backups": self.active,
                "last_backup": {"id": self.last.get("id"), "name": self.last.get("name"),
                                "created_at": self.last.get("created_at"),
                                "age_seconds": int(now - last_time) if last_time else None}
                if self.last else None,
                "newest_status": self.newest.get("status") if self.newest else None,
                "last_attempt": self.attempt}


def limit_of(tier, max_delay):
    return LIMITS[tier] + max(0, int(max_delay))


def judge(images, attempts, server_id, counts, apt_series, apt_enabled, max_delay, now):
    """[SeriesHealth] in display order: the tiers, the apt series, then the others by name."""
    backups = [image for image in images
               if inventory.series_of(image) not in ("snapshot", "-")]
    by_series = {}
    for image in inventory.newest_first(backups):
        by_series.setdefault(inventory.series_of(image), []).append(image)
    mine = {series: attempt for series, attempt in attempts.items()
            if attempt.get("server") in (None, server_id)}
    names = set(by_series) | set(mine) | {tier for tier in TIERS if counts.get(tier, 0) > 0}
    if apt_enabled:
        names.add(apt_series)
    order = [tier for tier in TIERS if tier in names]
    order += [apt_series] if apt_series in names and apt_series not in order else []
    order += sorted(names - set(order))

    active_of = {series: [i for i in members if i.get("status") == "active"]
                 for series, members in by_series.items()}
    result = []
    for series in order:
        members = by_series.get(series, [])
        active = active_of.get(series, [])
        health = SeriesHealth(series, count=counts.get(series), last=active[0] if active else None,
                              newest=members[0] if members else None, active=len(active),
                              attempt=mine.get(series))
        if series in TIERS:
            health.limit = limit_of(series, max_delay)
        _decide(health, active_of, counts, now)
        result.append(health)
    return result


def _decide(health, active_of, counts, now):
    attempt = health.attempt
    last_time = health.last_time
    if attempt and attempt.get("outcome") == FAILED and attempt["time"] > (last_time or 0):
        health.verdict = FAILING
        health.why = (f"the last attempt ({inventory.format_time(attempt['time'])} UTC, "
                      f"{attempt.get('trigger') or '?'}) failed: {attempt.get('error') or '?'}")
        return
    series = health.series
    if series not in TIERS:
        health.verdict, health.why = OK, "never stale (no schedule)"
        return
    if counts.get(series, 0) < 1:
        health.verdict, health.why = OFF, f"[schedule] {series} = 0"
        return
    limit = health.limit
    higher = TIERS[TIERS.index(series):]
    times = [inventory.parse_time(image.get("created_at"))
             for tier in higher for image in active_of.get(tier, [])]
    times = [t for t in times if t is not None]
    within = f"limit {inventory.human_age(limit)}"
    if times:
        age = now - max(times)
        covered = "" if last_time == max(times) else " (a higher tier's backup counts)"
        health.verdict = STALE if age > limit else OK
        health.why = f"newest backup {inventory.human_age(age)} old, {within}{covered}"
        return
    scheduled = [inventory.parse_time(image.get("created_at"))
                 for tier in TIERS for image in active_of.get(tier, [])]
    scheduled = [t for t in scheduled if t is not None]
    lowest = next((tier for tier in TIERS if counts.get(tier, 0) > 0), None)
    if not scheduled:
        if series == lowest:
            health.verdict, health.why = STALE, "no scheduled backup at all yet"
        else:
            health.verdict, health.why = OK, "none yet"
        return
    since = min(scheduled)
    if now - since > limit:
        health.verdict = STALE
        health.why = (f"none, although scheduled backups exist since "
                      f"{inventory.format_time(since, seconds=False)} UTC ({within})")
    else:
        health.verdict = OK
        health.why = (f"none yet; due by {inventory.format_time(since + limit, seconds=False)} "
                      "UTC")


def exit_code(healths):
    return max((EXIT[health.verdict] for health in healths), default=0)


def status_lines(healths, now):
    header = ("SERIES", "LAST BACKUP (UTC)", "AGE", "STATE", "KEPT", "LAST ATTEMPT", "VERDICT")
    rows = []
    for h in healths:
        last_time = h.last_time
        attempt = h.attempt
        rows.append((
            h.series, inventory.format_time(last_time), inventory.human_age(now - last_time)
            if last_time else "-", (h.newest or {}).get("status") or "-", str(h.active),
            f"{attempt['outcome']} {inventory.format_time(attempt['time'], seconds=False)}"
            if attempt else "-", f"{h.verdict}: {h.why}"))
    if not rows:
        return ["No backup series for this server, and no schedule enabled."]
    widths = [max(len(row[n]) for row in rows + [header]) for n in range(len(header) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]
            for row in [header] + rows]


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


def prometheus_text(healths, now, code, cloud_up=True):
    """The node-exporter textfile-collector file: gauges per series, then the overall state."""
    values = {name: [] for name, _ in METRICS}
    for h in healths:
        label = f'{{series="{_label(h.series)}"}}'
        if h.last_time is not None:
            values["last_backup_timestamp_seconds"].append((label, f"{h.last_time:.0f}"))
        if cloud_up:
            values["backups"].append((label, str(h.active)))
        if h.attempt:
            values["last_attempt_success"].append(
                (label, "0" if h.attempt.get("outcome") == FAILED else "1"))
            values["last_attempt_timestamp_seconds"].append((label, f"{h.attempt['time']:.0f}"))
        if cloud_up:
            values["series_status"].append((label, str(EXIT[h.verdict])))
    lines = []
    for name, text in METRICS:
        if not values[name]:
            continue
        lines += [f"# HELP {PREFIX}{name} {text}", f"# TYPE {PREFIX}{name} gauge"]
        lines += [f"{PREFIX}{name}{label} {value}" for label, value in values[name]]
    lines += [f"# HELP {PREFIX}cloud_up 1 if the cloud answered the status query, else 0.",
              f"# TYPE {PREFIX}cloud_up gauge", f"{PREFIX}cloud_up {1 if cloud_up else 0}",
              f"# HELP {PREFIX}status Exit status of 'nova-snapshot-hook status': 0 fine, "
              "1 stale, 2 failing or unreadable.",
              f"# TYPE {PREFIX}status gauge", f"{PREFIX}status {code}",
              f"# HELP {PREFIX}status_timestamp_seconds When the status was taken (Unix time).",
              f"# TYPE {PREFIX}status_timestamp_seconds gauge",
              f"{PREFIX}status_timestamp_seconds {now:.0f}"]
    return "\n".join(lines) + "\n"
