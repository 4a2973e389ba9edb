#!/usr/bin/python3
"""Benchmark: what an apt run costs when apt's stream alone settles the hook (P1a, target 1.3x).

Runs whole processes, alternating, against the baseline `/usr/bin/python3 -I -c pass`:
  skip-option  a real stream (tests/fixtures/apt-hook) with NovaSnapshotHook::Skip=true added
  empty-list   the same config dump with an empty action list
  skip-large   a skip stream over 64 KiB (2000 upgrades, 390 KB): what a large list costs
  settings-off a real stream that the settings settle ([apt] enabled = no; P1b, target 2.0x)
Each hook process runs the real entry point (main.py, `apt-hook`) and reads the stream on fd 0
(apt's InfoFD in real life); under the skip option the action lines are not parsed
(policy.settle_by_stream). A run that exits non-zero stops the benchmark.
Prints medians, the ratio to the baseline, peak RSS (getrusage(RUSAGE_CHILDREN) in a fresh
process per command) and the modules the hook path imports beyond the baseline.
apt-listchanges' hook on the same stream: bench/apt_listchanges.py (in a Debian root, since it
must not be installed on the host, and fed the protocol version 2 it asks for).
A benchmark, not a test: it reports and never fails on the figures.

    /usr/bin/python3 bench/hook_fast_path.py [--runs 31]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(REPO, "tests", "fixtures", "apt-hook",
                       "bookworm-install-and-upgrade.txt")
TARGET = 1.3

# The real entry point, as /usr/sbin/nova-snapshot-hook runs it, reading the stream on fd 0.
HOOK = f"""
import sys
sys.path.insert(0, {REPO!r})
from nova_snapshot_hook.main import main
sys.exit(main(["apt-hook"]))
"""
# The settings switch the hook off: the run is settled by the settings (P1b, target 2.0x).
SETTINGS = "[apt]\nenabled = no\n"
TARGET_SETTINGS = 2.0
LIST_MODULES = ("import sys; base = set(sys.modules)\n" + HOOK.replace("sys.exit(", "(")
                + "\nprint('ADDED', ' '.join(sorted(set(sys.modules) - base)))")
ENV = {"PATH": "/usr/bin:/bin"}
PEAK_RSS = ("import resource, subprocess, sys\n"
            "subprocess.run(sys.argv[2:], stdin=open(sys.argv[1], 'rb'), check=True,"
            " stdout=subprocess.DEVNULL)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def make_streams(directory):
    with open(FIXTURE, "rb") as f:
        real = f.read()
    config, _, actions = real.partition(b"\n\n")
    version, _, dump = config.partition(b"\n")
    skip_config = version + b"\nNovaSnapshotHook::Skip=true\n" + dump
    upgrades = b"".join(
        b"pkg%d 1.0-%d amd64 same < 1:1.0-%d~deb12u1 amd64 same %s\n" % (i, i, i, kind)
        for i in range(2000)
        for kind in (b"/var/cache/apt/archives/pkg%d_1%%3a1.0-%d~deb12u1_amd64.deb" % (i, i),
                     b"**CONFIGURE**"))
    streams = {
        "skip-option": skip_config + b"\n\n" + actions,
        "empty-list": config + b"\n\n",
        "skip-large": skip_config + b"\n\n" + upgrades,
        "settings-off": real,
    }
    paths = {}
    for name, data in streams.items():
        paths[name] = os.path.join(directory, name)
        with open(paths[name], "wb") as f:
            f.write(data)
    return paths, {name: len(data) for name, data in streams.items()}


def run_once(command, stdin_path):
    with open(stdin_path, "rb") as stdin:
        start = time.perf_counter()
        code = subprocess.call(command, stdin=stdin, stdout=subprocess.DEVNULL, env=ENV)
        elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{command[-1][:40]!r} exited {code}: the stream did not settle the run")
    return elapsed


def peak_rss_kib(command, stdin_path):
    out = subprocess.run([PYTHON, "-I", "-c", PEAK_RSS, stdin_path] + command,
                         check=True, capture_output=True, text=True, env=ENV).stdout
    return int(out.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31)
    runs = parser.parse_args().runs
    baseline = [PYTHON, "-I", "-c", "pass"]
    hook = [PYTHON, "-I", "-c", HOOK]
    with tempfile.TemporaryDirectory() as directory:
        settings = os.path.join(directory, "nova-snapshot-hook.conf")
        with open(settings, "w") as f:
            f.write(SETTINGS)
        ENV.update(APT_HOOK_INFO_FD="0", NOVA_SNAPSHOT_HOOK_CONFIG=settings,
                   NOVA_SNAPSHOT_HOOK_ROOT=os.path.join(directory, "host"))
        paths, sizes = make_streams(directory)
        commands = [("baseline", baseline, paths["empty-list"])]
        commands += [(name, hook, path) for name, path in paths.items()]
        for _, command, path in commands:  # warm the page cache and the .pyc files
            run_once(command, path)
        times = {name: [] for name, _, _ in commands}
        for round_number in range(runs):
            shift = round_number % len(commands)  # rotate so no command always runs first
            for name, command, path in commands[shift:] + commands[:shift]:
                times[name].append(run_once(command, path))
        rss = {name: peak_rss_kib(command, path) for name, command, path in commands}
        added = subprocess.run([PYTHON, "-I", "-c", LIST_MODULES], stdin=open(paths["skip-option"]),
                               check=True, capture_output=True, text=True, env=ENV).stdout
        added = added.split("ADDED", 1)[1].split()

    base = statistics.median(times["baseline"])
    print(f"python: {PYTHON} ({sys.version.split()[0]}), {runs} alternating runs each, medians")
    print(f"{'command':<12} {'stream':>10} {'median ms':>10} {'ratio':>6} {'peak RSS KiB':>13}")
    for name, _, _ in commands:
        median = statistics.median(times[name])
        size = f"{sizes[name]} B" if name in sizes else "-"
        print(f"{name:<12} {size:>10} {median * 1000:>10.2f} {median / base:>6.2f} "
              f"{rss.get(name, '-'):>13}")
    for names, target, label in ((("skip-option", "empty-list"), TARGET, "P1a"),
                                 (("skip-large",), TARGET, "P1a"),
                                 (("settings-off",), TARGET_SETTINGS, "P1b")):
        worst = max(statistics.median(times[name]) / base for name in names)
        verdict = "met" if worst <= target else "MISSED"
        print(f"{' and '.join(names)}: ratio {worst:.2f}, {label} target <= {target} {verdict}")
    print("modules the skip path adds to the baseline's: " + " ".join(added))


if __name__ == "__main__":
    main()
