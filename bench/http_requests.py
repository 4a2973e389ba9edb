#!/usr/bin/python3
"""Benchmark: HTTP requests and CPU time per snapshot, ours against the original article's way.

On the local cloud (minicloud/up), in a project of its own with one server, alternating:
  ours-cold    `nova-snapshot-hook snapshot` with an empty token cache
  ours-cached  the same with the token the previous run left in the cache (/run in real life)
  nova-cli     `nova backup SERVER NAME TYPE ROTATION` (python3-novaclient's CLI), as the 2016
               article's create-snapshot.sh does it (`openstack server backup create` if there is
               no /usr/bin/nova)
Every request goes through a loopback counting proxy (tests/integration/loopback_proxy.py): ours
through `[cloud] https_proxy`, the nova CLI through `http_proxy`. A request is a *status poll* when
it only reads the state of the backup after the request was sent (GET of the image, the server or
the instance action after the createBackup POST); the others are the *cost* of a snapshot. The
nova CLI does not wait for the capture at all, so it makes no status poll.
Target: at most 3 requests plus status polls with a cold token, 2 with a cached one.
Also the whole-process CPU time (getrusage(RUSAGE_CHILDREN), user + system) of each.
A benchmark, not a test: it reports and never fails on the figures.

    /usr/bin/python3 bench/http_requests.py [--rounds 5]
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from support import cloudbench  # noqa: E402

sys.path.insert(0, os.path.join(cloudbench.REPO, "tests", "integration"))
from loopback_proxy import LoopbackProxy  # noqa: E402

TARGET_COLD, TARGET_CACHED = 3, 2
SERIES = "bench"
ACTION = re.compile(r"/servers/[^/]+/action$")


def classify(requests, waits=True):
    """(cost, polls) of one run's requests, as "METHOD /path STATUS" lines: polls are the reads
    after the POST of a program that waits for the capture (the nova CLI does not: its GET of
    the image after the POST only prints the image)."""
    cost, polls, posted = [], [], False
    for method, _, path, status, _, _ in requests:
        line = f"{method} {re.sub(r'[0-9a-f]{8}-[0-9a-f-]{27}', '{id}', path.split('?')[0])}" \
               f" {status}"
        if posted and waits and method == "GET":
            polls.append(line)
        else:
            cost.append(line)
        if method == "POST" and ACTION.search(path.split("?")[0]):
            posted = True
    return cost, polls


def nova_cli_command(server_id, name):
    if os.path.exists("/usr/bin/nova"):
        return ["/usr/bin/nova", "backup", server_id, name, SERIES, "2"], "nova backup"
    return (["/usr/bin/openstack", "server", "backup", "create", "--name", name, "--type", SERIES,
             "--rotate", "2", server_id], "openstack server backup create")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print("HTTP requests and CPU time per snapshot (bench/http_requests.py)")
    if not cloudbench.cloud_is_up():
        print("  skipped: the local cloud is not up (minicloud/up)")
        return
    runs = {"ours-cold": [], "ours-cached": [], "nova-cli": []}
    shapes = {}
    directory = tempfile.mkdtemp(prefix="nsh-bench-http-")
    try:
        with cloudbench.BenchProject(instances=2) as project, LoopbackProxy() as proxy:
            [server] = project.boot(1, "http")
            tool = cloudbench.Tool(project, server, directory, proxy=proxy.url)
            nova_env = dict(project.env(), PATH="/usr/bin:/bin", LC_ALL="C.UTF-8",
                            HOME=directory, http_proxy=proxy.url)
            cli, cli_label = nova_cli_command(server, "nova-cli-bench")
            # One unmeasured run of each: .pyc files and the page cache warm, the token cached.
            for command, env in ((tool.command("snapshot", SERIES, "2"), tool.env),
                                 (cli, nova_env)):
                cloudbench.run_measured(command, env)
                cloudbench.wait_idle(project.nova, server)
            for number in range(rounds):
                order = [("ours-cold", True), ("ours-cached", False), ("nova-cli", None)]
                shift = number % len(order)
                for name, cold in order[shift:] + order[:shift]:
                    if name == "ours-cached" and not os.path.exists(tool.state):
                        cloudbench.run_measured(tool.command("snapshot", SERIES, "2"), tool.env)
                        cloudbench.wait_idle(project.nova, server)
                    if cold:
                        tool.forget_token()
                    proxy.reset()
                    if name == "nova-cli":
                        result, wall, cpu = cloudbench.run_measured(cli, nova_env)
                    else:
                        result, wall, cpu = cloudbench.run_measured(
                            tool.command("snapshot", SERIES, "2"), tool.env)
                    if result.returncode != 0:
                        raise SystemExit(f"{name} failed: {result.stdout}{result.stderr}")
                    cost, polls = classify(proxy.requests, waits=name != "nova-cli")
                    runs[name].append((len(cost), len(polls), wall, cpu))
                    shapes.setdefault(name, cost)
                    cloudbench.wait_idle(project.nova, server)
    finally:
        shutil.rmtree(directory, ignore_errors=True)

    print(f"  machine: {cloudbench.machine()}; {rounds} alternating rounds, medians; "
          f"the original way: {cli_label}")
    print(f"  {'run':<12} {'requests':>8} {'cost':>5} {'polls':>6} {'wall s':>7} {'CPU s':>6}")
    med = {}
    for name, values in runs.items():
        cost = statistics.median(v[0] for v in values)
        polls = statistics.median(v[1] for v in values)
        wall = statistics.median(v[2] for v in values)
        cpu = statistics.median(v[3] for v in values)
        med[name] = (cost, polls, wall, cpu)
        print(f"  {name:<12} {cost + polls:>8.0f} {cost:>5.0f} {polls:>6.0f} {wall:>7.2f} "
              f"{cpu:>6.2f}")
    for name, cost in shapes.items():
        print(f"  {name} requests besides status polls: " + ", ".join(cost))
    for name, target in (("ours-cold", TARGET_COLD), ("ours-cached", TARGET_CACHED)):
        worst = max(v[0] for v in runs[name])
        verdict = "met" if worst <= target else "MISSED"
        print(f"  {name}: at most {worst} requests plus status polls, target <= {target} {verdict}")
    for name in ("ours-cold", "ours-cached"):
        print(f"  CPU time {name} / nova-cli: {med[name][3] / med['nova-cli'][3]:.2f} "
              f"({med[name][3]:.2f} s / {med['nova-cli'][3]:.2f} s; ours waits for the capture, "
              "the nova CLI does not)")


if __name__ == "__main__":
    main()
