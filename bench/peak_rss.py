#!/usr/bin/python3
"""Benchmark: peak RSS of the apt hook when it takes no backup and when it takes one.

Each command runs in a fresh wrapper process whose getrusage(RUSAGE_CHILDREN).ru_maxrss is the
peak RSS of that one child, side by side with the baseline `/usr/bin/python3 -I -c pass`:
  no-snapshot   apt-hook on a real stream with NovaSnapshotHook::Skip=true (settled by the stream)
  settings-off  apt-hook on the real stream, [apt] enabled = no (settled by the settings)
  snapshot      apt-hook on the real stream, taking a backup on the local cloud
  snapshot-vm   the same without python3-osprofiler, as on a VM: keystoneauth1 imports it (and
                through it eventlet) when it is installed, as here for the local cloud
  cli-snapshot  `nova-snapshot-hook snapshot` on the local cloud
The cloud runs need minicloud/up; they use a project of their own with one server. The issue
sets no target for memory: the figures are for doc/performance.md. A benchmark, not a test.

    /usr/bin/python3 bench/peak_rss.py [--runs 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from support import cloudbench  # noqa: E402

STREAM = os.path.join(cloudbench.REPO, "tests", "fixtures", "apt-hook",
                      "bookworm-install-and-upgrade.txt")
PEAK_RSS = ("import resource, subprocess, sys\n"
            "status = subprocess.run(sys.argv[2:], stdin=open(sys.argv[1], 'rb'),"
            " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
            "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_rss_kib(command, stdin_path, env):
    out = subprocess.run([cloudbench.PYTHON, "-I", "-c", PEAK_RSS, stdin_path] + command,
                         check=True, capture_output=True, text=True, env=env).stdout
    status, kib = out.split()
    if status != "0":
        raise SystemExit(f"{command[-1]} exited {status}")
    return int(kib)


def skip_stream(directory):
    with open(STREAM, "rb") as handle:
        config, _, actions = handle.read().partition(b"\n\n")
    version, _, dump = config.partition(b"\n")
    path = os.path.join(directory, "skip-stream")
    with open(path, "wb") as handle:
        handle.write(version + b"\nNovaSnapshotHook::Skip=true\n" + dump + b"\n\n" + actions)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    print("peak RSS of the hook (bench/peak_rss.py)")
    directory = tempfile.mkdtemp(prefix="nsh-bench-rss-")
    results = {}
    try:
        skip = skip_stream(directory)
        env = {"PATH": "/usr/bin:/bin"}
        results["baseline"] = [peak_rss_kib([cloudbench.PYTHON, "-I", "-c", "pass"], skip, env)
                               for _ in range(runs)]
        if not cloudbench.cloud_is_up():
            print("  the local cloud is not up (minicloud/up): the snapshot paths are not measured")
            project = None
        else:
            project = cloudbench.BenchProject(instances=2).__enter__()
        try:
            if project:
                [server] = project.boot(1, "rss")
            else:
                server = "11111111-2222-3333-4444-555555555555"

            class NoCloud:                       # settings and credentials without a cloud
                def write_credentials(self, path):
                    with open(path, "w", encoding="utf-8") as handle:
                        handle.write("export OS_AUTH_URL=http://127.0.0.1:9/v3\n")
                    os.chmod(path, 0o600)
                    return path
            os.makedirs(os.path.join(directory, "off"))
            off = cloudbench.Tool(NoCloud(), server, os.path.join(directory, "off"),
                                  settings_extra="[apt]\nenabled = no\n")
            hook_env = dict(off.env, APT_HOOK_INFO_FD="0")
            results["no-snapshot"] = [peak_rss_kib(off.command("apt-hook"), skip, hook_env)
                                      for _ in range(runs)]
            results["settings-off"] = [peak_rss_kib(off.command("apt-hook"), STREAM, hook_env)
                                       for _ in range(runs)]
            if project:
                os.makedirs(os.path.join(directory, "on"))
                on = cloudbench.Tool(project, server, os.path.join(directory, "on"),
                                     settings_extra="[apt]\nmin_interval = 0\nrotation = 1\n")
                on_env = dict(on.env, APT_HOOK_INFO_FD="0")
                results["snapshot"], results["snapshot-vm"], results["cli-snapshot"] = [], [], []
                for _ in range(runs):
                    for key, without in (("snapshot", ()), ("snapshot-vm", ("osprofiler",))):
                        for name in ("last-apt-snapshot", "pending-outcome"):
                            if os.path.exists(os.path.join(on.state, name)):
                                os.remove(os.path.join(on.state, name))
                        results[key].append(peak_rss_kib(on.command("apt-hook", without=without),
                                                         STREAM, on_env))
                        cloudbench.wait_idle(project.nova, server)
                    results["cli-snapshot"].append(peak_rss_kib(
                        on.command("snapshot", "bench", "1"), STREAM, on.env))
                    cloudbench.wait_idle(project.nova, server)
        finally:
            if project:
                project.__exit__(None, None, None)
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    print(f"  machine: {cloudbench.machine()}; {runs} runs each, medians")
    base = statistics.median(results["baseline"])
    print(f"  {'run':<13} {'peak RSS KiB':>12} {'x baseline':>10}")
    for name, values in results.items():
        value = statistics.median(values)
        print(f"  {name:<13} {value:>12.0f} {value / base:>10.2f}")
    print("  no target for memory (issue 6 asks for the figures)")


if __name__ == "__main__":
    main()
