"""The soak's machine: the real program run as cron and apt run it, on a simulated clock, against
a server of a project of its own, every call through the fault proxy.

The clock: the product reads "now" from the system clock (the scheduled run's date, the apt
hook's time for [apt] min_interval, the time in the image name), and `scheduled --date` is for
--dry-run only. So each run gets libfaketime (Debian's package `faketime`) preloaded, starting
at the simulated moment and ticking in real time; the monotonic clock stays real, so the
product's timeouts are real (monotonic_sleep.c says why it is preloaded too). Glance and Nova
keep the real time.

Two kinds of machine: an image-backed server (createBackup, rotated by Nova) and a volume-backed
one (createImage: Cinder snapshots its root volume, the tool rotates), each in a project of its
own, so that neither sees the other's images, snapshots or faults.
"""

import datetime
import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(REPO, "tests"), os.path.join(REPO, "tests", "integration"),
                os.path.join(REPO, "bench")]

import runners                                      # noqa: E402
import vm_site                                      # noqa: E402
from faultproxy import FaultProxy                    # noqa: E402
from support.cloudbench import (BenchProject, wait_idle, read_state,    # noqa: E402
                                read_state_env)

FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SLEEP_SHIM = os.path.join(HERE, "monotonic_sleep.c")
PEAK_RSS = os.path.join(HERE, "peak_rss.c")
CONTROL = os.path.join(REPO, "debian", "control")
ACTION = r"^/compute/v2\.1/servers/[0-9a-f-]+/action$"
SERVER_GET = r"^/compute/v2\.1/servers/[0-9a-f-]+$"
IMAGE_GET = r"^/image/v2/images/[0-9a-f-]+$"
NAME_MINUTE = re.compile(r"-(\d{8}T\d{4})Z")
RUN_TIMEOUT = 120
VOLUME_GB = 1                  # the local cloud's flavor disk
# A volume-backed series holds count + 1 snapshots after a killed run: 31 at most by default;
# Cinder's default of 10 would stop the backups (the tool checks the quota first).
SNAPSHOT_QUOTA = 100
SETTLING = ("creating", "deleting")
# The machine's directory is the program's NOVA_SNAPSHOT_HOOK_ROOT: its state is in these two.
RUN = os.path.join("run", "nova-snapshot-hook")
LIB = os.path.join("var", "lib", "nova-snapshot-hook")
# What the program may keep between runs; anything else left in its directories is a leak.
EXPECTED_STATE = {RUN: re.compile(r"^(last-apt-snapshot|token-[0-9a-f]+)$"),
                  LIB: re.compile(r"^(schedule|attempts|attempts\.lock)$"),
                  "run": re.compile(r"^nova-snapshot-hook$"), "var": re.compile(r"^lib$"),
                  os.path.join("var", "lib"): re.compile(r"^nova-snapshot-hook$"),
                  "": re.compile(r"^(lock|run|var|settings|credentials|root|output|site)$")}


def faketime_missing():
    if not os.path.exists(FAKETIME_LIBRARY):
        return f"{FAKETIME_LIBRARY} is missing (apt-get install faketime)"
    if not shutil.which("gcc"):
        return "gcc is missing (apt-get install build-essential)"
    return None


def build_sleep_shim(directory):
    target = os.path.join(directory, "monotonic_sleep.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-o", target, SLEEP_SHIM, "-ldl"],
                   check=True, capture_output=True)
    return target


def build_peak_rss(directory):
    target = os.path.join(directory, "peak_rss")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", target, PEAK_RSS], check=True,
                   capture_output=True)
    return target


class Outcome:
    """maxrss_kb: the program's peak RSS, for the runs that measure it (else None)."""

    def __init__(self, returncode, output, maxrss_kb, seconds, fault_hit=False, killed=False):
        self.returncode, self.output, self.maxrss_kb = returncode, output, maxrss_kb
        self.seconds, self.fault_hit, self.killed = seconds, fault_hit, killed


class TimedProxy(FaultProxy):
    """The fault proxy, holding a backup request until SPACING after the answer to the one
    before: Glance's created_at, by which Nova (and the tool) rotate, has one-second steps, so
    two images of a series must be made more than a second apart, as a real calendar's always
    are. After the answer, not the request: Nova makes the image in Glance before it answers,
    for a volume-backed server only after Cinder's snapshot, which took from 0.1 to 0.6 s here;
    two requests 1.2 s apart once gave two images of one second, and the tool's rotation, by
    created_at as Nova's own, then kept the older (the soak's day 2024-09-20, volume-backed).
    The tool's own ordering now breaks such a tie with its nsh_requested (issue 23); Nova's
    rotation of an image-backed series still has created_at alone, so the spacing stays.
    An image made a second or more after the other is a second later whether the database
    rounds or truncates the fraction. Held here, not before the run, the wait overlaps the
    program's start-up and is mostly none."""

    SPACING = 1.05
    last_action = 0.0               # when the last backup request was answered
    held = 0.0                      # seconds requests were held in all

    def handle(self, handler):
        if handler.command != "POST" or not re.search(ACTION, handler.path):
            return super().handle(handler)
        hold = self.last_action + self.SPACING - time.time()
        if hold > 0:
            self.held += hold
            time.sleep(hold)
        try:
            return super().handle(handler)
        finally:
            self.last_action = time.time()


class Machine:
    """`with Machine(directory, settings) as machine:` boots the server and starts the proxy."""

    def __init__(self, directory, settings="", volume_backed=False):
        self.directory, self.extra_settings = directory, settings
        self.volume_backed = volume_backed
        self.project = self.proxy = self.cinder = None

    def __enter__(self):
        os.makedirs(self.directory, exist_ok=True)
        self.proxy = TimedProxy().start()
        self.project = BenchProject(instances=2).__enter__()
        try:
            self.server = self._boot_from_volume() if self.volume_backed else \
                self.project.boot(1, "nsh-soak")[0]
            self._write_files()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        if self.project:
            try:
                if self.cinder:
                    self._drop_volume_backups()
                self.project.__exit__(*exc)
            finally:
                if self.cinder:
                    self._drop_volumes()
        if self.proxy:
            self.proxy.stop()

    def _boot_from_volume(self):
        """A root volume made from the cloud's image, and a server booted from it (the volume
        goes with the server), in the project, whose snapshot quota is raised first."""
        from keystoneauth1 import adapter
        self.cinder = adapter.Adapter(self.project.session, service_type="block-storage",
                                      interface="public")
        self.cinder_admin = admin = adapter.Adapter(
            self.project.admin, service_type="block-storage", interface="public")
        admin.put(f"/os-quota-sets/{self.project.project_id}",
                  json={"quota_set": {"snapshots": SNAPSHOT_QUOTA}})
        volume = self.cinder.post("/volumes", json={"volume": {
            "size": VOLUME_GB, "name": "nsh-soak-root",
            "imageRef": read_state("image_id")}}).json()["volume"]["id"]
        end = time.monotonic() + 120
        while self.cinder.get(f"/volumes/{volume}").json()["volume"]["status"] != "available":
            if time.monotonic() > end:
                raise RuntimeError(f"the soak's root volume {volume} is not available")
            time.sleep(0.3)
        flavor = self.project.nova.flavors.find(name=read_state_env("MINICLOUD_FLAVOR"))
        self.project.nova.servers.create(
            "nsh-soak-volume", None, flavor.id, nics="none", block_device_mapping_v2=[{
                "boot_index": 0, "uuid": volume, "source_type": "volume",
                "destination_type": "volume", "delete_on_termination": True}])
        server = self.project._wait_active("nsh-soak-volume", 1, time.monotonic() + 120)[0]
        self.project.server_ids.append(server)
        return server

    def _drop_volume_backups(self):
        """Images first, then their snapshots: Cinder keeps a volume that has snapshots, so
        the server's deletion would leave its root volume behind."""
        self.project.delete_images()
        end = time.monotonic() + 120
        while True:
            snapshots = self.snapshots()
            for snapshot in snapshots:
                if snapshot["status"] not in SETTLING:
                    self.cinder.delete(f"/snapshots/{snapshot['id']}", raise_exc=False)
            if not snapshots or time.monotonic() > end:
                return
            time.sleep(0.5)

    def _drop_volumes(self):
        """What the server's deletion left (none, unless a snapshot outlived the wait); as the
        admin: the project's user is gone by now."""
        for volume in self.cinder_admin.get("/volumes/detail", params={
                "all_tenants": 1, "project_id": self.project.project_id}).json()["volumes"]:
            if volume["status"] != "deleting":
                self.cinder_admin.delete(f"/volumes/{volume['id']}", raise_exc=False)

    def snapshots(self):
        return self.cinder.get("/snapshots/detail").json()["snapshots"]

    def path(self, *parts):
        return os.path.join(self.directory, *parts)

    def _write_files(self):
        for name in (RUN, LIB, "root", "output"):
            os.makedirs(self.path(name), exist_ok=True)
        self.preload = f"{build_sleep_shim(self.path('output'))} {FAKETIME_LIBRARY}"
        self.site = vm_site.build(self.path("site"), CONTROL)
        self.peak_rss = build_peak_rss(self.path("output"))
        credentials = self.project.openrc().replace(
            read_state_auth_url(), self.proxy.auth_url)
        with open(self.path("credentials"), "w", encoding="utf-8") as handle:
            handle.write(credentials)
        os.chmod(self.path("credentials"), 0o600)
        with open(self.path("settings"), "w", encoding="utf-8") as handle:
            handle.write(
                f"[server]\nid = {self.server}\nidentity_root = {self.path('root')}\n"
                f"metadata_url =\n[cloud]\ncredentials = {self.path('credentials')}\n"
                f"api_timeout = 3\n[snapshot]\nlock = {self.path('lock')}\ntimeout = 60\n"
                f"poll_interval = 0.3\n[apt]\nwait = 60\n[schedule]\nmax_delay = 0\n"
                f"wait = 60\n[log]\nsyslog = no\n{self.extra_settings}")

    # -- running the program -----------------------------------------------------------------
    def env(self, moment):
        return runners.environment(self.directory, self.path("settings"), {
            "LC_ALL": "C.UTF-8", "TZ": "UTC", "LD_PRELOAD": self.preload,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME": "@" + moment.strftime("%Y-%m-%d %H:%M:%S")})

    def program(self, *args):
        """The program as /usr/sbin/nova-snapshot-hook runs it on a VM: with the modules of its
        dependencies only (vm_site.py says why), not this host's dist-packages."""
        return runners.cli_command(*args, site=self.site)

    def scheduled(self, moment, fault=None):
        return self._run(self.program("scheduled", "--no-delay"), moment, fault,
                         measure=True)

    def apt(self, moment, fault=None):
        """One apt run: the hook with apt's stream on APT_HOOK_INFO_FD, run by `sh -c` with
        apt's own line, from a new "apt" process each time (the hook tells transactions apart
        by that process), then apt-post-invoke as DPkg::Post-Invoke runs it."""
        line = shlex.join(self.program("apt-hook")) + " || test $? -ne 99"
        apt = ["sh", "-c", f"sh -c {shlex.quote(line)}; exit $?"]
        outcome = self._run(apt, moment, fault, stream=runners.HOOK_STREAM)
        after = moment + datetime.timedelta(seconds=max(1, round(outcome.seconds)))
        post = self._run(self.program("apt-post-invoke"), after, None)
        outcome.output += post.output
        return outcome

    def _run(self, command, moment, fault, stream=None, measure=False):
        """The command on the simulated clock; `stream`: a file apt's hook reads on the fd
        named by APT_HOOK_INFO_FD (runners.start); `measure`: its peak RSS, through
        peak_rss.c."""
        self.proxy.clear()
        rule = self._inject(fault)
        output = tempfile.TemporaryFile(dir=self.path("output"))
        report = None
        if measure:
            descriptor, report = tempfile.mkstemp(dir=self.path("output"))
            os.close(descriptor)
            command = [self.peak_rss, report, *command]
        started = time.monotonic()
        process = runners.start(command, self.env(moment), stream, cwd="/",
                                stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        killed = fault == "kill" and self._kill_when_hit(process, rule)
        process.wait()
        maxrss_kb = None
        if report:
            with open(report, encoding="ascii") as handle:
                maxrss_kb = int(handle.read())     # none: the wrapper failed, and so does the soak
            os.remove(report)
        seconds = time.monotonic() - started
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
        output.close()
        self.proxy.clear()
        return Outcome(process.returncode, text, maxrss_kb, seconds,
                       rule is not None and rule.hits > 0, killed)

    def _inject(self, fault):
        """The proxy rule of a fault. For "kill", a hang on the first look at the new image: its
        hit says Nova has the request and the program waits for the capture; it is then
        killed."""
        if fault in ("500", "hang"):
            return self.proxy.add("POST", ACTION, fault, 1)
        if fault == "409":
            return self.proxy.add("POST", ACTION, "409", 2)
        if fault == "401":
            return self.proxy.add("GET", SERVER_GET, "401", 1)
        if fault == "kill":
            return self.proxy.add("GET", IMAGE_GET, "hang", 1)
        return None

    def _kill_when_hit(self, process, rule, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end and process.poll() is None:
            if rule.hits:
                for pid in [process.pid, *descendants(process.pid)]:
                    if command_line(pid).startswith(runners.PYTHON + "\0"):   # not apt's shells
                        os.kill(pid, 9)
                        return True
            time.sleep(0.02)
        return False

    # -- what the cloud and the host hold ------------------------------------------------------
    def backups(self, timeout=30):
        """{series: [minute keys]} of every image of the project, once none is still being made
        (nor any of its snapshots) and the server is idle. An image that is not a whole backup
        of the server, and a snapshot that is not the one of an image, go under a "?" series of
        their own, which the model never has."""
        end = time.monotonic() + timeout
        while True:
            wait_idle(self.project.nova, self.server)
            images = self.project.images()
            snapshots = self.snapshots() if self.cinder else []
            settled = all(image["status"] == "active" for image in images) and \
                not any(snapshot["status"] in SETTLING for snapshot in snapshots)
            if settled or time.monotonic() > end:
                break
            time.sleep(0.2)
        found = {}
        for image in images:
            minute = NAME_MINUTE.search(image.get("name") or "")
            # createBackup's images carry Nova's own two; createImage's of a volume-backed
            # server only the tool's properties (doc/nova-backup-api.md).
            series = image.get("backup_type") or image.get("nsh_series") or "?"
            server = image.get("instance_uuid") or image.get("nsh_server")
            if server != self.server or image["status"] != "active" or not minute:
                series = f"? {image.get('name')} {image['status']}"
            found.setdefault(series, []).append(minute.group(1) if minute else image["id"])
        for problem in self.volume_problems(images, snapshots) if self.cinder else ():
            found.setdefault(f"? {problem}", []).append("-")
        return found

    @staticmethod
    def volume_problems(images, snapshots):
        """Where the project's Cinder snapshots are not exactly one available snapshot per
        image (its root volume's): a part of a deleted backup left behind, or a part missing."""
        named = {}
        problems = []
        for image in images:
            mapping = image.get("block_device_mapping") or "[]"
            entries = [entry for entry in json.loads(mapping) if entry.get("snapshot_id")]
            if len(entries) != 1:
                problems.append(f"image {image.get('name')} names {len(entries)} snapshots")
            named.update({entry["snapshot_id"]: image.get("name") for entry in entries})
        present = {snapshot["id"]: snapshot["status"] for snapshot in snapshots}
        for snapshot, status in sorted(present.items()):
            if snapshot not in named:
                problems.append(f"snapshot {snapshot} ({status}) of no image")
            elif status != "available":
                problems.append(f"snapshot {snapshot} of {named[snapshot]} is {status}")
        problems += [f"snapshot {snapshot} of {name} is gone"
                     for snapshot, name in sorted(named.items()) if snapshot not in present]
        return problems

    def failed_snapshots(self):
        """Start times of the server's backups that Nova itself failed. No injected fault reaches
        Nova, so each is the cloud's own failure: on the shared local cloud, most likely another
        user's `control/fail_next`, which fails the next snapshot of any server."""
        return sorted(action.start_time for action in
                      self.project.nova.instance_action.list(self.server)
                      if action.action in ("createBackup", "createImage")
                      and action.message == "Error")

    def lock_busy(self):
        """The names of the host lock and the schedule file (its own lock) that are held."""
        busy = []
        for name in ("lock", os.path.join(LIB, "schedule")):
            if not os.path.exists(self.path(name)):
                continue
            with open(self.path(name), "a+", encoding="utf-8") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    busy.append(name)
        return busy

    def stray_files(self):
        """Files of the program's directories that are not its expected state."""
        stray = []
        for sub, allowed in EXPECTED_STATE.items():
            for name in os.listdir(self.path(sub) if sub else self.directory):
                if not allowed.match(name):
                    stray.append(os.path.join(sub, name))
        return stray


def read_state_auth_url():
    for line in read_state("openrc").splitlines():
        if "OS_AUTH_URL=" in line:
            return shlex.split(line.split("=", 1)[1])[0]
    raise KeyError("OS_AUTH_URL")


def descendants(pid):
    """pid's descendants, parents before children (from /proc/PID/task/*/children)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        try:
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as handle:
                children = [int(child) for child in handle.read().split()]
        except OSError:
            children = []
        found += children
        queue += children
    return found


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
