"""The soak's calendar, drawn from one seed: which days the machine is off, when apt runs, which
runs meet which fault. The same seed, start and length always give the same plan."""

import datetime
import math
import random
from dataclasses import dataclass

SCHEDULED_AT = datetime.time(1, 1)       # cron's and the timer's 01:01
FAULTS = ("500", "hang", "409", "401", "kill")
FAULT_GAP = (5, 15)                     # runs from one fault to the next: one in ten
APT_DAY_SHARE = 0.20                     # days with 1 to 3 apt runs
SECOND_SCHEDULED_SHARE = 0.03            # a second scheduled run the same day (takes nothing)
OFF_EVERY = 60                           # one day off per this many days, at least one


@dataclass(frozen=True)
class Run:
    kind: str                # "scheduled" or "apt"
    moment: datetime.datetime
    fault: str = None        # one of FAULTS, or None


def off_days(rng, calendar):
    """Half on days a period begins (a Sunday or a 1st, whose tier must be caught up), half
    anywhere; never the first day."""
    count = max(1, len(calendar) // OFF_EVERY)
    starts = [day for day in calendar[1:] if day.weekday() == 6 or day.day == 1]
    chosen = set(rng.sample(starts, min(len(starts), (count + 1) // 2)))
    rest = [day for day in calendar[1:] if day not in chosen]
    chosen |= set(rng.sample(rest, min(len(rest), count - len(chosen))))
    return chosen


def apt_moments(rng, day, min_interval):
    """1 to 3 apt runs between 06:00 and about 20:00, in bursts: a later run is either well
    within [apt] min_interval of the burst's first run (so of every run since), or well beyond
    the run before (a new burst). Never near min_interval from any earlier run: the one backup
    recorded may be any run of the burst (the first may fail), and at exactly min_interval the
    decision rests on milliseconds of the simulated clock (the soak's first mismatch of the
    volume-backed server, 07:45, 07:51, 07:55 with 600 s)."""
    moment = datetime.datetime.combine(day, datetime.time(6)) + \
        datetime.timedelta(minutes=rng.randrange(14 * 60))
    moments, burst = [moment], moment
    for _ in range(rng.randrange(3)):
        room = 0.6 * min_interval - (moment - burst).total_seconds()
        if rng.random() < 0.5 and room >= 60:
            moment += datetime.timedelta(minutes=rng.randint(1, int(room // 60)))
        else:
            gap = rng.uniform(1.5 * min_interval, 1.5 * min_interval + 7200)
            moment += datetime.timedelta(minutes=math.ceil(gap / 60))
            burst = moment
        moments.append(moment)
    return moments


def fault_cycle(rng):
    """The faults in rounds, each round every kind once in a random order: a month's few
    faults are all different."""
    while True:
        yield from rng.sample(FAULTS, len(FAULTS))


def make_plan(seed, start, days, min_interval=600.0):
    """[(day, [Run...])] for every day; an off day has no run."""
    rng = random.Random(seed)
    calendar = [start + datetime.timedelta(days=n) for n in range(days)]
    off = off_days(rng, calendar)
    faults = fault_cycle(rng)
    # Gaps, not a coin per run: a month meets three or four faults, never none.
    until_fault = rng.randint(*FAULT_GAP)
    plan = []
    for day in calendar:
        runs = []
        if day not in off:
            at = datetime.datetime.combine(day, SCHEDULED_AT)
            runs.append(Run("scheduled", at))
            if rng.random() < SECOND_SCHEDULED_SHARE:
                runs.append(Run("scheduled", at + datetime.timedelta(minutes=30)))
            if rng.random() < APT_DAY_SHARE:
                runs += [Run("apt", moment) for moment in apt_moments(rng, day, min_interval)]
            faulty = []
            for run in runs:
                until_fault -= 1
                if until_fault == 0:
                    until_fault = rng.randint(*FAULT_GAP)
                    run = Run(run.kind, run.moment, next(faults))
                faulty.append(run)
            runs = faulty
        plan.append((day, runs))
    return plan
