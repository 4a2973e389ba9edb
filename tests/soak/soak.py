#!/usr/bin/python3
"""The long-run soak (issue 16): N simulated days of the real program against the local cloud,
with faults, checked every day against an independent model (oracle.py).

    /usr/bin/python3 tests/soak/soak.py [--days 730] [--seed 1] [--start 2027-12-20]

Two servers, side by side, each in a project of its own with its own calendar, model and fault
proxy: an image-backed one (createBackup, Nova rotates) and a volume-backed one (createImage,
Cinder snapshots, the tool rotates). Each day: the real `scheduled --no-delay` at 01:01 of the
simulated clock (machine.py says why libfaketime, not --date), on some days 1 to 3 apt runs
through the apt hook, a few days off; about one run in ten meets a fault through the fault
proxy. After every day Glance's images (and Cinder's snapshots) of each project must be exactly
its model's; the host lock and the schedule file must be free, and the program's directories
must hold only its expected state. The peak RSS of the scheduled runs must not grow from the
first month to the last. Ends with one report line; exit status 0 only with no mismatch and no
leak.
"""

import argparse
import datetime
import faulthandler
import os
import resource
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import oracle                                   # noqa: E402
import plan as calendar_plan                    # noqa: E402
from machine import Machine, faketime_missing   # noqa: E402

# In the past of the cloud's clock on purpose: a host clock ahead of Keystone's by more than a
# token's life makes keystoneauth authenticate again before every request (3 or 4 times each,
# measured), which triples a run's time; one behind reuses the cached token until Keystone
# refuses it (401), which the program must handle anyway.
DEFAULT_START = datetime.date(2023, 12, 20)
MIN_INTERVAL = 600.0                # the product's default [apt] min_interval
SETTLE = 15.0                       # seconds Nova may take to finish a capture and rotate
RSS_GROWTH = 1.10                   # the last month's peak RSS may exceed the first's by 10 %
WORKED = ("409", "401")             # faults the program must heal
FAILED = ("500", "hang")            # faults that must fail the run before Nova sees a request
SERVERS = ("image-backed", "volume-backed")


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def plan_seed(seed, server):
    """The image-backed server's calendar is the seed's own (as before there were two)."""
    return seed if server == SERVERS[0] else f"{seed}:{server}"


class Soak:
    def __init__(self, name, model, keep_going=False):
        self.name, self.model, self.keep_going = name, model, keep_going
        self.machine, self.simulated = None, 0
        self.runs, self.faults, self.problems = [], Counter(), []
        self.mismatches = self.leaks = 0
        self.leaked = set()
        self.rss = []                       # (day index, KiB) of full scheduled runs
        self.run_seconds, self.check_seconds = {}, 0.0

    # -- one run -------------------------------------------------------------------------------
    def scheduled(self, index, day, run):
        tier = self.model.scheduled_plan(day)
        outcome = self.machine.scheduled(run.moment, run.fault)
        made, recorded = self.effect(run, outcome, tier is not None)
        if made:
            self.model.image_made(tier, run.moment, self.rotated(outcome))
        if recorded:
            self.model.scheduled_recorded(day)
        if tier and run.fault is None:
            self.rss.append((index, outcome.maxrss_kb))
        expected = -9 if outcome.killed else 0 if made or tier is None else (1, 2)
        if outcome.returncode not in (expected if isinstance(expected, tuple) else (expected,)):
            self.problem(day, f"scheduled at {run.moment:%H:%M} (tier {tier}, fault {run.fault}) "
                              f"exited {outcome.returncode}, expected {expected}:\n"
                              f"{outcome.output.strip()}")
        self.runs.append(run.kind)

    def apt(self, index, day, run):
        wanted = self.model.apt_wants_backup(run.moment)
        outcome = self.machine.apt(run.moment, run.fault)
        made, recorded = self.effect(run, outcome, wanted)
        if made:
            self.model.image_made(self.model.apt_series, run.moment, self.rotated(outcome))
        if recorded:
            self.model.apt_recorded(run.moment)
        warned = "apt goes on" in outcome.output
        if outcome.returncode != 0 or warned != (wanted and run.fault in FAILED and
                                                 outcome.fault_hit):
            self.problem(day, f"apt at {run.moment:%H:%M} (backup wanted: {wanted}, fault "
                              f"{run.fault}) exited {outcome.returncode}:\n"
                              f"{outcome.output.strip()}")
        self.runs.append(run.kind)

    def rotated(self, outcome):
        """Nova rotates a createBackup series with the request; the tool its own createImage
        series once the capture is confirmed, which a killed run never saw."""
        return not (outcome.killed and self.machine.volume_backed)

    def effect(self, run, outcome, wanted):
        """(image made, run recorded) as the documented behaviour says, from what was injected."""
        self.run_seconds.setdefault((run.kind, run.fault, wanted), []).append(outcome.seconds)
        if outcome.fault_hit:
            self.faults[run.fault] += 1
        if not wanted:
            return False, False
        if outcome.killed:
            return True, False              # Nova had the request: it finishes the image
        if outcome.fault_hit and run.fault in FAILED:
            return False, False
        return True, True

    # -- after each day ------------------------------------------------------------------------
    def check(self, day):
        checked = time.monotonic()
        expected = self.model.expected()
        end = time.monotonic() + SETTLE
        while True:
            differences = oracle.compare(expected, self.machine.backups())
            if not differences or time.monotonic() > end:
                break
            time.sleep(0.5)
        for series, missing, extra in differences:
            self.problem(day, f"series {series}: missing {missing or 'nothing'}, "
                              f"beyond the model {extra or 'nothing'}")
            self.leaked |= {(series, key) for key in extra}
        if differences:
            self.mismatches += 1
            failed = self.machine.failed_snapshots()
            if failed:
                self.problem(day, "not injected by the soak: Nova failed the snapshot it was "
                                  f"asked for at {', '.join(failed)} (real time; another user's "
                                  "fault on the shared cloud, such as control/fail_next?)")
        stray, busy = self.machine.stray_files(), self.machine.lock_busy()
        if stray:
            self.problem(day, f"files beyond the program's state: {', '.join(stray)}")
        if busy:
            self.problem(day, f"held after the day's runs: {', '.join(busy)}")
        self.leaks = len(self.leaked) + len(stray) + len(busy)
        self.check_seconds += time.monotonic() - checked
        return not self.problems or self.keep_going

    def problem(self, day, text):
        self.problems.append(f"{self.name} server, day {day.isoformat()} ({day:%A}): {text}")
        say("MISMATCH " + self.problems[-1])

    def time_split(self, wall):
        """Where the wall time went: the runs by kind, the daily checks, the rest (set-up)."""
        kinds = {}
        for (kind, fault, wanted), seconds in self.run_seconds.items():
            label = f"{kind} {'backup' if wanted else 'no backup'}" + (f" {fault}" if fault else "")
            kinds.setdefault(label, []).extend(seconds)
        runs = sum(sum(seconds) for seconds in kinds.values())
        parts = [f"{label}: {len(seconds)} x {statistics.mean(seconds):.2f} s"
                 for label, seconds in sorted(kinds.items())]
        held = self.machine.proxy.held if self.machine else 0.0
        return (f"runs {runs:.0f} s ({'; '.join(parts)}; requests held {held:.0f} s of it "
                f"to keep backups a second apart), checks {self.check_seconds:.0f} s, "
                f"rest {wall - runs - self.check_seconds:.0f} s")

    def rss_quarters(self):
        """The median peak RSS (MiB) of the full scheduled runs of each simulated quarter: the
        runs list more images until every series is full (the monthly one after a year)."""
        quarters = {}
        for index, kib in self.rss:
            quarters.setdefault(index // 91, []).append(kib)
        return " ".join(f"{statistics.median(values) / 1024:.1f}"
                        for _, values in sorted(quarters.items()))

    def rss_months(self, days):
        """(median peak RSS in MiB of the first month's full scheduled runs, of the last's)."""
        window = max(3, min(30, days // 4))
        first = [kib for index, kib in self.rss if index < window]
        last = [kib for index, kib in self.rss if index >= days - window]
        if not first or not last:
            return None, None
        return statistics.median(first) / 1024, statistics.median(last) / 1024


def soak_server(soak, schedule, directory, stop, done):
    """One server's whole calendar, in its own thread; sets `stop` at a mismatch (unless
    keep_going) so that the other server stops too, and `done` at its end."""
    days = len(schedule)
    try:
        with Machine(directory, volume_backed=soak.name == "volume-backed") as machine:
            soak.machine = machine
            say(f"{soak.name}: server {machine.server} in project {machine.project.name}")
            for index, (day, runs) in enumerate(schedule):
                if stop.is_set():
                    break
                for run in runs:
                    (soak.scheduled if run.kind == "scheduled" else soak.apt)(index, day, run)
                going = soak.check(day)
                soak.simulated = index + 1
                if index % 30 == 29 or not runs:
                    say(f"{soak.name}: day {index + 1}/{days} {day}: {len(soak.runs)} runs, "
                        f"{sum(soak.faults.values())} faults, {len(soak.problems)} problems"
                        + ("" if runs else " (machine off)"))
                if not going:
                    stop.set()
    except Exception as err:        # noqa: BLE001 -- reported as the soak's problem, not lost
        soak.problems.append(f"{soak.name} server: the soak itself failed: {err!r}")
        say("ERROR " + soak.problems[-1] + "\n" + traceback.format_exc())
        stop.set()
    finally:
        done.set()


def run_soak(days, seed, start, keep_going=False, directory=None, servers=SERVERS):
    """Returns (exit status, report line)."""
    missing = faketime_missing()
    if missing:
        return 2, f"soak: not run: {missing}"
    started = time.monotonic()
    directory = directory or tempfile.mkdtemp(prefix="nsh-soak-")
    plural = "s" if len(servers) > 1 else ""
    say(f"soak: {days} days, {' and '.join(servers)} server{plural}; files in {directory}")
    soaks = [Soak(name, oracle.Model(min_interval=MIN_INTERVAL), keep_going) for name in servers]
    stop, ended = threading.Event(), [threading.Event() for _ in soaks]
    for soak, done in zip(soaks, ended):
        threading.Thread(target=soak_server, name=soak.name, daemon=True, args=(
            soak, calendar_plan.make_plan(plan_seed(seed, soak.name), start, days, MIN_INTERVAL),
            os.path.join(directory, soak.name), stop, done)).start()
    # Not Thread.join: measured, it never returns once a soak thread's fault proxy has a
    # request hanging (the "hang" fault's handler sleeps on), though the thread has ended.
    for done in ended:
        done.wait()
    wall = time.monotonic() - started
    for soak in soaks:
        say(f"{soak.name} time: " + soak.time_split(wall))
        say(f"{soak.name} peak RSS by quarter, MiB: {soak.rss_quarters()}")
    own = resource.getrusage(resource.RUSAGE_SELF)
    say(f"the soak's own process (its threads, fault proxies and checks; not the program): "
        f"CPU {own.ru_utime + own.ru_stime:.0f} s, peak RSS {own.ru_maxrss / 1024:.1f} MiB")
    simulated = min(soak.simulated for soak in soaks)
    rss = {soak.name: soak.rss_months(simulated) for soak in soaks}
    rss_flat = all(first is not None and last <= first * RSS_GROWTH
                   for first, last in rss.values())
    runs = [kind for soak in soaks for kind in soak.runs]
    faults = sum((soak.faults for soak in soaks), Counter())
    problems = [problem for soak in soaks for problem in soak.problems]
    line = (f"soak: {simulated} days from {start} (seed {seed}), {len(servers)} server{plural} "
            f"({', '.join(servers)}): {len(runs)} runs ({runs.count('scheduled')} scheduled, "
            f"{runs.count('apt')} apt), {sum(faults.values())} faults injected ("
            + (", ".join(f"{count} {name}" for name, count in sorted(faults.items())) or "none")
            + f"), {sum(soak.mismatches for soak in soaks)} mismatches, "
            f"{sum(soak.leaks for soak in soaks)} leaks, {len(problems)} problems, peak RSS "
            + "; ".join(f"{name} {first:.1f} MiB first month, {last:.1f} MiB last month"
                        if first is not None else f"{name} not measured"
                        for name, (first, last) in rss.items())
            + f"; wall {int(wall // 60)} min {int(wall % 60)} s")
    good = not problems and rss_flat and simulated == days
    if not rss_flat:
        line += f" (peak RSS grew by more than {RSS_GROWTH - 1:.0%} or was not measured)"
    if good:
        shutil.rmtree(directory, ignore_errors=True)
    else:
        line += f" (files kept in {directory})"
    return (0 if good else 1), line


def main(argv=None):
    faulthandler.register(signal.SIGUSR1, all_threads=True)     # kill -USR1: where it waits
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=datetime.date.fromisoformat,
                        default=DEFAULT_START,
                        help="the first simulated day (default %(default)s: two New Years and a "
                             "29 February in 730 days)")
    parser.add_argument("--keep-going", action="store_true",
                        help="go on after the first mismatch (later ones may follow from it)")
    parser.add_argument("--server", choices=SERVERS, action="append",
                        help="only this server (again for both, the default)")
    args = parser.parse_args(argv)
    status, line = run_soak(args.days, args.seed, args.start, args.keep_going,
                            servers=tuple(args.server or SERVERS))
    print(line, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
