"""Times whole processes inside a Debian root; bench/apt_listchanges.py copies it there and runs it
with the root's own python3 (so: the standard library only, nothing from the repository).

    python3 -I timing_in_root.py SPEC.json RUNS

SPEC.json is a list of {"name", "argv", "stream", "reset"}. Each command gets its stream file on
fd 20 with APT_HOOK_INFO_FD=20, as apt hands a Pre-Install-Pkgs hook its InfoFD, and /dev/null on
stdin; the files named in "reset" are deleted before each run, outside the timed span. One run of
each is untimed (page cache, .pyc files) and its status and output are reported, so the caller
can check that every command did the work it is meant to. Then RUNS rounds, alternating, each
round starting one command later so that none always runs first. Prints one JSON object.
"""

import json
import os
import subprocess
import sys
import time

INFO_FD = 20


def run(command, capture=False):
    for path in command.get("reset", ()):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    stream = os.open(command["stream"], os.O_RDONLY)
    if stream != INFO_FD:
        os.dup2(stream, INFO_FD)    # inheritable, and only passed to this child
        os.close(stream)
    else:
        os.set_inheritable(stream, True)
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    env = dict(os.environ, APT_HOOK_INFO_FD=str(INFO_FD))
    try:
        start = time.perf_counter()
        done = subprocess.run(command["argv"], stdin=subprocess.DEVNULL, stdout=output,
                              stderr=output, env=env, pass_fds=(INFO_FD,))
        elapsed = time.perf_counter() - start
    finally:
        os.close(INFO_FD)
    return elapsed, done


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        commands = json.load(handle)
    runs = int(sys.argv[2])
    checks = {}
    for command in commands:
        _, done = run(command, capture=True)
        checks[command["name"]] = {
            "status": done.returncode,
            "stdout": done.stdout.decode("utf-8", "replace")[-2000:],
            "stderr": done.stderr.decode("utf-8", "replace")[-2000:]}
    times = {command["name"]: [] for command in commands}
    for number in range(runs):
        shift = number % len(commands)
        for command in commands[shift:] + commands[:shift]:
            elapsed, done = run(command)
            if done.returncode != checks[command["name"]]["status"]:
                checks[command["name"]]["changed"] = done.returncode
            times[command["name"]].append(elapsed)
    json.dump({"python": sys.version.split()[0], "times": times, "checks": checks}, sys.stdout)


if __name__ == "__main__":
    main()
