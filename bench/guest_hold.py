#!/usr/bin/python3
"""Benchmark P6 on a real disk: how long apt is held beyond the capture, for the 1 GB Debian guest
under Nova's libvirt driver (QEMU, TCG) of the local cloud (MINICLOUD_COMPUTE=libvirt
minicloud/up). Target: at most 0.3 s beyond the moment Glance first shows the capture.

The real apt hook runs as apt runs it (a Pre-Install-Pkgs stream on fd 0) against the guest,
as the demo user. Meanwhile independent pollers, with their own sessions, watch Glance's image
status and Nova's task_state as fast as they answer, and note when each first appears:

    held beyond the capture = hook process exit - Glance first shows `saving` or `active`
    snapshot   = hook start -> task_state image_pending_upload (request, and the live snapshot
                 starts: libvirt sets the state before it)
    extraction = image_pending_upload -> image_uploading (the disk copied out of the guest)
    upload     = image_uploading -> Glance `active` (after the hook returned)

Figures err on the low side by at most a poller period (printed). A benchmark, not a test.

    /usr/bin/python3 bench/guest_hold.py [--rounds 5]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from apt_hold import STREAM, TARGET, Poller  # noqa: E402  (the same apt run, target and poller)
from support import cloudbench  # noqa: E402


class Demo:
    """The demo project of the local cloud, which owns the guest."""

    def env(self):
        return cloudbench.openrc_vars("openrc")

    def write_credentials(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(cloudbench.read_state("openrc") + "\n")
        os.chmod(path, 0o600)
        return path


class Watcher(Poller):
    """apt_hold's poller, noting when each Glance status and Nova task_state of the new backup
    is first seen."""

    def __init__(self, glance, nova, server_id):
        super().__init__(glance, server_id)
        self.nova, self.seen = nova, {}

    def forget(self):
        super().forget()
        self.seen, self.periods = {}, []

    def run(self):
        last = time.monotonic()
        while self.running.is_set():
            task = getattr(self.nova.servers.get(self.server_id), "OS-EXT-STS:task_state")
            images = [image for image in self.images() if image["id"] not in self.known]
            now = time.monotonic()
            self.periods.append(now - last)
            last = now
            if task:
                self.seen.setdefault("task " + task, now)
            for image in images:
                self.seen.setdefault("glance " + image["status"], now)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print("apt held beyond the capture, real guest (bench/guest_hold.py)")
    try:
        server = cloudbench.read_state("guest_server_id")
    except FileNotFoundError:
        server = None
    if not server or not os.path.exists(os.path.join(cloudbench.STATE, "run",
                                                     "nova-compute-libvirt.pid")):
        print("  skipped: no real guest (MINICLOUD_COMPUTE=libvirt minicloud/up)")
        return
    directory = tempfile.mkdtemp(prefix="nsh-bench-guest-")
    rows = []
    sess = cloudbench.session(Demo().env())
    glance, nova = cloudbench.glance(sess), cloudbench.nova(sess)
    try:
        tool = cloudbench.Tool(Demo(), server, directory,
                               settings_extra="[apt]\nmin_interval = 0\nrotation = 1\n"
                                              "series = benchguest\n")
        env = dict(tool.env, APT_HOOK_INFO_FD="0")
        command = tool.command("apt-hook")
        watcher = Watcher(glance, nova, server)
        cloudbench.wait_idle(nova, server, timeout=600)
        watcher.forget()
        watcher.start()
        for _ in range(rounds + 1):                  # the first run warms caches; not counted
            for name in ("last-apt-snapshot", "pending-outcome"):
                if os.path.exists(os.path.join(tool.state, name)):
                    os.remove(os.path.join(tool.state, name))
            cloudbench.wait_idle(nova, server, timeout=600)
            time.sleep(1.1)
            watcher.forget()
            with open(STREAM, "rb") as stream:
                started = time.monotonic()
                result, wall, _ = cloudbench.run_measured(command, env, stdin=stream, timeout=900)
            ended = started + wall
            if result.returncode != 0 or "captured in" not in result.stdout:
                raise SystemExit(f"the hook took no backup: {result.stdout}{result.stderr}")
            cloudbench.wait_idle(nova, server, timeout=600)
            end = time.monotonic() + 600
            while "glance active" not in watcher.seen and time.monotonic() < end:
                time.sleep(0.2)
            seen = watcher.seen
            capture = min(seen.get("glance saving", 1e18), seen.get("glance active", 1e18))
            rows.append({"held beyond": ended - capture, "whole hold": wall,
                         "snapshot": seen["task image_pending_upload"] - started,
                         "extraction": seen["task image_uploading"]
                         - seen["task image_pending_upload"],
                         "upload": seen["glance active"] - seen["task image_uploading"],
                         "period": statistics.median(watcher.periods)})
        watcher.running.clear()
        watcher.join()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        for image in glance.get("/v2/images", params={"nsh_series": "benchguest"}).json()["images"]:
            glance.delete(f"/v2/images/{image['id']}")
    rows = rows[1:]
    print(f"  machine: {cloudbench.machine()}; {len(rows)} hook runs on the 1 GB guest")
    for key in ("whole hold", "snapshot", "extraction", "upload"):
        print(f"  {key:<12} median {statistics.median(r[key] for r in rows):.2f} s")
    print(f"  poller period median {statistics.median(r['period'] for r in rows) * 1000:.0f} ms")
    held = [r["held beyond"] for r in rows]
    print("  held beyond the capture, each run: " + " ".join(f"{v:.2f}" for v in held) + " s")
    median = statistics.median(held)
    print(f"  held beyond the capture: median {median:.2f} s, worst {max(held):.2f} s, "
          f"target <= {TARGET} s {'met' if median <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
