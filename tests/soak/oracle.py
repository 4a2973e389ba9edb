"""The soak's own model of what Glance must hold, written from doc/scheduled-backups.md and the
apt settings' documentation, never from the product's code: it imports nothing of
nova_snapshot_hook, so a mistake shared by the product's rules and its unit tests still shows.

The documented behaviour it models:
- a scheduled run takes at most one image, of the highest tier whose period began since the
  last recorded scheduled success (1 January: yearly; the 1st: monthly; Sunday: weekly; every
  day: daily); without a record the calendar alone decides; a second run on the recorded day
  takes nothing; a tier with count 0 is off and the next lower due one is taken;
- only a successful run is recorded, so a failed one is taken again by the next run;
- the apt hook takes a backup unless the last one it recorded is less than [apt] min_interval
  seconds old;
- every series keeps its newest `count` images: Nova's rotation at each createBackup (an
  image-backed server), or the tool's own once the new image is captured (createImage, a
  volume-backed server). So a run killed after its request leaves the image to be finished,
  rotated at once by Nova, but by the tool only at the series' next backup;
- each image of a volume-backed server names exactly one Cinder snapshot (its root volume),
  which goes with it (machine.py checks that part).

A backup is keyed by (series, the minute of the simulated clock the run started at), which the
product writes into the image's name (`<host>-<series>-<YYYYMMDDTHHMM>Z[-<change>]`): Glance's
created_at is the real time of the soak, not the simulated day.
"""

import datetime
from collections import Counter

TIERS = ("yearly", "monthly", "weekly", "daily")          # highest first
DEFAULT_COUNTS = {"yearly": 2, "monthly": 12, "weekly": 4, "daily": 7}


def period_begins(tier, day):
    if tier == "yearly":
        return day.month == 1 and day.day == 1
    if tier == "monthly":
        return day.day == 1
    if tier == "weekly":
        return day.weekday() == 6                         # Sunday
    return True


def due_tiers(day, last):
    """The tiers whose period began since `last` (exclusive) up to `day`; the calendar alone
    without a record."""
    first = day if last is None else last + datetime.timedelta(days=1)
    days = [first + datetime.timedelta(days=n) for n in range((day - first).days + 1)]
    return [tier for tier in TIERS if any(period_begins(tier, d) for d in days)]


def scheduled_tier(day, last, counts):
    """The tier a scheduled run on `day` takes, or None."""
    if last == day:
        return None
    return next((tier for tier in due_tiers(day, last) if counts.get(tier, 0) > 0), None)


def key(moment):
    """A backup's key: the simulated minute, as the product's image name writes it (UTC)."""
    return moment.strftime("%Y%m%dT%H%M")


class Model:
    """What each series must hold after the runs so far."""

    def __init__(self, counts=None, apt_series="apt", apt_rotation=5, min_interval=600.0):
        self.counts = dict(DEFAULT_COUNTS if counts is None else counts)
        self.counts[apt_series] = apt_rotation
        self.apt_series, self.min_interval = apt_series, min_interval
        self.series = {name: [] for name in self.counts}
        self.last_scheduled = None          # the day the schedule recorded
        self.last_apt = None                # the simulated time the apt hook recorded

    # -- what a run should do -----------------------------------------------------------------
    def scheduled_plan(self, day):
        return scheduled_tier(day, self.last_scheduled, self.counts)

    def apt_wants_backup(self, moment):
        if self.last_apt is None:
            return True
        elapsed = (moment - self.last_apt).total_seconds()
        return not 0 <= elapsed < self.min_interval

    # -- what a run did ------------------------------------------------------------------------
    def image_made(self, series, moment, rotated=True):
        """A backup of `series` exists; `rotated`: the series was cut to its count after it."""
        kept = self.series[series]
        kept.append(key(moment))
        if rotated:
            del kept[:-self.counts[series]]

    def scheduled_recorded(self, day):
        self.last_scheduled = day

    def apt_recorded(self, moment):
        self.last_apt = moment

    def expected(self):
        """{series: sorted keys} of the series that must hold images."""
        return {name: sorted(keys) for name, keys in self.series.items() if keys}


def compare(expected, found):
    """[(series, missing keys, extra keys)] where Glance differs from the model; two images with
    one key count as an extra one."""
    differences = []
    for series in sorted(set(expected) | set(found)):
        want, have = Counter(expected.get(series, [])), Counter(found.get(series, []))
        missing, extra = sorted((want - have).elements()), sorted((have - want).elements())
        if missing or extra:
            differences.append((series, missing, extra))
    return differences
