#!/usr/bin/python3
"""Benchmark: `fleet snapshot` over many servers, concurrency 1 against 16 and the ideal.

On the local cloud, in a project of its own: boot N fake servers (multi-create, 25 a request;
N = 200 by default, as issue 6 asks: on a 2-vCPU machine booting them takes about 5 minutes
and deleting them more than 3, so the whole run takes about 13; --servers 80 gives a quicker
look in about 4),
then back every one of them up with `nova-snapshot-hook fleet snapshot --all`, once with
--concurrency 16 and once with --concurrency 1 (each into a series of its own with rotation 1, so
that no Nova rotation deletes images during a measured run), then delete the servers, the images
and the project. Times are the summary's own (`seconds` in --json: from the first request of the
first server to the end of the last), so both runs exclude the same start-up and listing.

    ideal(16) = max(longest single-server time, sum of single-server times / 16)

with the single-server times measured by the --concurrency 1 run: what 16 workers would take if
running 16 at once cost the cloud nothing more than running one. Target: concurrency 16 within
1.2x of that ideal. Also printed: the scheduling ratio, concurrency 16 against
max(longest, sum / 16) of its own per-server times, which is near 1.0 when the pool keeps 16
servers in flight whatever the cloud's speed (the tool's share; the rest is the cloud's).
Also printed: the CPU time the cloud's services used during each run, against the machine's
CPUs: where they are all busy, the cloud, not the tool, sets the pace, and the run cannot be
shorter than that CPU time divided by the CPUs (the cloud's own floor, printed with its ratio).
A benchmark, not a test.

    /usr/bin/python3 bench/fleet_scaling.py [--servers 200] [--concurrency 16]
"""

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from support import cloudbench  # noqa: E402

TARGET = 1.2


def fleet(tool, series, concurrency):
    """(summary, process wall s, process CPU s, cloud CPU s by service, machine busy CPU s)."""
    cloud, busy = cloudbench.cloud_cpu(), cloudbench.machine_cpu()
    result, wall, cpu = cloudbench.run_measured(
        tool.command("--quiet", "fleet", "snapshot", series, "1", "--all", "--concurrency",
                     str(concurrency), "--json", "--timeout", "600"), tool.env, timeout=3600)
    after = cloudbench.cloud_cpu()
    busy = cloudbench.machine_cpu() - busy
    if result.returncode != 0:
        summary = result.stdout[-2000:] + result.stderr[-2000:]
        raise SystemExit(f"fleet snapshot --concurrency {concurrency} failed:\n{summary}")
    used = {name: after[name] - cloud.get(name, 0.0) for name in after}
    return json.loads(result.stdout), wall, cpu, used, busy


def bound(times, width):
    return max(max(times), sum(times) / width)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    n, width = options.servers, options.concurrency
    print(f"fleet snapshot of {n} servers: concurrency 1 against {width} and the ideal "
          "(bench/fleet_scaling.py)")
    if not cloudbench.cloud_is_up():
        print("  skipped: the local cloud is not up (minicloud/up)")
        return
    directory = tempfile.mkdtemp(prefix="nsh-bench-fleet-")
    steps = {}
    try:
        with cloudbench.BenchProject(instances=n) as project:
            started = time.monotonic()
            cloudbench.say(f"booting {n} servers")
            project.boot(n, "fleet", batch=25)
            steps["boot"] = time.monotonic() - started
            tool = cloudbench.Tool(project, "00000000-0000-0000-0000-000000000000", directory)
            cloudbench.say(f"fleet snapshot --concurrency {width}")
            wide, wide_wall, wide_cpu, wide_cloud, wide_busy = fleet(tool, "benchwide", width)
            cloudbench.say("fleet snapshot --concurrency 1")
            single, single_wall, single_cpu, single_cloud, single_busy = fleet(tool, "benchone", 1)
            started = time.monotonic()
            status = cloudbench.run_measured(tool.command("fleet", "status", "--all", "--json"),
                                             tool.env)
            steps["status"] = time.monotonic() - started
            rows = json.loads(status[0].stdout)["rows"]
            cloudbench.say("deleting the servers, their images and the project")
            started = time.monotonic()
        steps["cleanup"] = time.monotonic() - started
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    one = [server["seconds"] for server in single["servers"]]
    many = [server["seconds"] for server in wide["servers"]]
    ideal = bound(one, width)
    print(f"  machine: {cloudbench.machine()}")
    print(f"  boot {n} servers {steps['boot']:.0f} s; fleet status of {n} servers "
          f"({len(rows)} rows) {steps['status']:.1f} s; cleanup {steps['cleanup']:.0f} s")
    print(f"  {'run':<15} {'seconds':>8} {'process s':>9} {'CPU s':>6} {'per server s':>22}")
    for name, summary, wall, cpu, times in (("concurrency 1", single, single_wall, single_cpu, one),
                                            (f"concurrency {width}", wide, wide_wall, wide_cpu,
                                             many)):
        spread = (f"median {statistics.median(times):.2f}, max {max(times):.2f}")
        print(f"  {name:<15} {summary['seconds']:>8.1f} {wall:>9.1f} {cpu:>6.1f} {spread:>22}")
    cores = os.cpu_count()
    for name, summary, cloud, busy, wall in (("concurrency 1", single, single_cloud, single_busy,
                                              single_wall),
                                             (f"concurrency {width}", wide, wide_cloud, wide_busy,
                                              wide_wall)):
        top = ", ".join(f"{service} {seconds:.0f}" for service, seconds in
                        sorted(cloud.items(), key=lambda item: -item[1])[:4])
        print(f"  {name}: the cloud's services used {sum(cloud.values()):.0f} CPU s "
              f"({sum(cloud.values()) / wall:.2f} of {cores} CPUs; {top}); the machine was "
              f"busy {busy / wall:.2f} of {cores} CPUs")
    print(f"  ideal({width}) = max(longest single {max(one):.2f} s, {n} x mean single "
          f"{statistics.mean(one):.2f} s / {width}) = {ideal:.1f} s "
          f"(longest x ceil(n/{width}) would be {max(one) * math.ceil(n / width):.1f} s)")
    print(f"  speed-up of concurrency {width} over 1: {single['seconds'] / wide['seconds']:.2f}x")
    ratio = wide["seconds"] / ideal
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"  concurrency {width} / ideal: {ratio:.2f}, target <= {TARGET} {verdict}")
    print(f"  scheduling: concurrency {width} / max(longest, sum/{width}) of its own per-server "
          f"times: {wide['seconds'] / bound(many, width):.2f} (1.0: the pool was always full)")
    floor = sum(wide_cloud.values()) / cores
    print(f"  the cloud's own floor: the CPU time its services used for concurrency {width} / "
          f"{cores} CPUs = {floor:.1f} s; concurrency {width} / that floor: "
          f"{wide['seconds'] / floor:.2f}")


if __name__ == "__main__":
    main()
