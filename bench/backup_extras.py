#!/usr/bin/python3
"""Benchmark: what the hooks and the sync add to a backup, against one interpreter start-up.

With no hooks, a backup pays one directory listing (backup/hooks.py hook_files); every backup
calls sync() before the request (backup/take.py). Measured in this process, side by side with
`python3 -I -c pass` as a whole process; the apt hook's no-snapshot path (P1a, P1b) does neither,
which bench/hook_fast_path.py measures. A benchmark, not a test.

    /usr/bin/python3 bench/backup_extras.py [--rounds 31]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nova_snapshot_hook.backup.hooks import hook_files  # noqa: E402


def timed(call, rounds):
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31)
    rounds = parser.parse_args().rounds
    print("hooks and sync on the backup path (bench/backup_extras.py)")
    startup = timed(lambda: subprocess.run([sys.executable, "-I", "-c", "pass"], check=True),
                    rounds)
    with tempfile.TemporaryDirectory() as directory:
        absent = timed(lambda: hook_files(os.path.join(directory, "absent")), rounds)
        empty = timed(lambda: hook_files(directory), rounds)
        idle = timed(os.sync, rounds)
        dirty = []
        for _ in range(max(3, rounds // 5)):
            with open(os.path.join(directory, "dirty"), "wb") as handle:
                handle.write(os.urandom(64 * 2 ** 20))
            started = time.perf_counter()
            os.sync()
            dirty.append(time.perf_counter() - started)
        dirty = statistics.median(dirty)
    print(f"  interpreter start-up (python3 -I -c pass)   {startup * 1000:8.2f} ms")
    for label, value in (("no hooks: hooks.d absent", absent), ("no hooks: hooks.d empty", empty),
                         ("sync(), little dirty", idle), ("sync(), 64 MiB just written", dirty)):
        print(f"  {label:<43} {value * 1000:8.3f} ms  ({value / startup:.3f}x a start-up)")


if __name__ == "__main__":
    main()
