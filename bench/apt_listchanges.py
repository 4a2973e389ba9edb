#!/usr/bin/python3
"""Benchmark: our apt hook against apt-listchanges' hook on the same apt run, side by side.

apt-listchanges is the Pre-Install-Pkgs hook most Debian machines already run. It must not be
installed on the host (nor the host's apt configuration touched), so everything runs in a
throwaway Debian 12 root, build/roots/bench-bookworm (tests/e2e/debroot; reused while it is
there, `make clean` removes it): apt-listchanges installed from Debian with apt-get, and this
working tree's nova_snapshot_hook package and /usr/sbin/nova-snapshot-hook copied where the .deb
puts them, then byte-compiled as the .deb's postinst does. Inside the root, one run of
bench/support/timing_in_root.py alternates whole processes, each with its stream on fd 20 as
apt passes it:
  python           /usr/bin/python3 -I -c pass (the baseline of hook_fast_path.py)
  ours             /usr/sbin/nova-snapshot-hook apt-hook, on hook_fast_path.py's skip-option
                   stream (a real apt 2.6.1 stream, an install and an upgrade, plus
                   NovaSnapshotHook::Skip=true), protocol version 3 as our apt.conf line asks
  ours-large       the same on hook_fast_path.py's skip-large stream (2,000 upgrades, 390 KB)
  apt-listchanges  /usr/bin/apt-listchanges --apt --no-network, as its 20listchanges runs it,
                   on the same config and package list in protocol version 2: its apt.conf line
                   sets Version "2" and it refuses any other VERSION line
apt-listchanges opens every .deb the list names, so the root holds stand-ins at those paths
(made here with dpkg-deb, each with a NEWS.Debian entry for its new version) and the old version
of each upgraded package installed, and its seen-database is deleted before each run: every run
shows the news, as the first run of a real upgrade does (checked). --no-network only turns off
its `apt-get changelog` fallback, which its default which=news never reaches.

Network: only the Debian mirror of the host's apt sources (`tests/e2e/debroot mirror`;
NSH_DEBIAN_MIRROR overrides it), by debootstrap and apt-get, and only while the root is made.
Without root privileges or debootstrap, or when the root cannot be made, it prints "skipped:
why" and exits 0. A benchmark, not a test: it reports and never fails on the figures.

    /usr/bin/python3 bench/apt_listchanges.py [--runs 31] [--fresh]
"""

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import hook_fast_path   # bench/ is sys.path[0]: the very streams that benchmark uses

REPO = hook_fast_path.REPO
DEBROOT = os.path.join(REPO, "tests", "e2e", "debroot")
SUITE = "bookworm"
ROOT = os.path.join(REPO, "build", "roots", f"bench-{SUITE}")
BASE_CACHE = os.path.join(REPO, "build", "cache")
READY = os.path.join(ROOT, ".nsh-bench-ready")   # apt-listchanges is installed
WORK = "/var/tmp/nsh-bench"                      # inside the root
PACKAGE_DIR = "/usr/lib/python3/dist-packages/nova_snapshot_hook"
PROGRAM = "/usr/sbin/nova-snapshot-hook"
LISTCHANGES = ["/usr/bin/apt-listchanges", "--apt", "--no-network"]
SEEN_DB = ["/var/lib/apt/listchanges.db", "/var/lib/apt/listchanges-old.db"]
TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"       # debroot's own PATH, whatever the caller's
SKIP_LINE = "INFO: nova-snapshot-hook: skipped: NovaSnapshotHook::Skip=true\n"
NEWS = "NEWS for {name} {version}: the stand-in's news, as apt-listchanges shows it."


class Skipped(Exception):
    pass


def debroot(*args, timeout=900):
    result = subprocess.run([DEBROOT, *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-3:])
        raise Skipped(f"debroot {args[0]} failed: {tail}")
    return result.stdout


def prepare_root(fresh):
    """The bench root with apt-listchanges installed: reused when ready, made otherwise."""
    if os.geteuid() != 0:
        raise Skipped("needs root (debroot chroots into a Debian root)")
    for tool in ("unshare", "chroot", "zstd", "dpkg-deb"):
        if not shutil.which(tool, path=TOOL_PATH):
            raise Skipped(f"{tool} is not installed")
    if os.path.exists(READY) and not fresh:
        return
    cached = os.path.exists(os.path.join(BASE_CACHE, f"debroot-{SUITE}-"
                                         f"{subprocess.getoutput('dpkg --print-architecture')}"
                                         ".tar.zst"))
    if not cached and not shutil.which("debootstrap", path=TOOL_PATH):
        raise Skipped("debootstrap is not installed and build/cache holds no base root")
    print(f"making the bench root {os.path.relpath(ROOT, REPO)} (a minute without a cached base)",
          flush=True)
    debroot("destroy", ROOT)
    debroot("create", SUITE, ROOT)
    # As debroot install does: the cached package lists first, refreshed only if they are stale.
    install = ("export DEBIAN_FRONTEND=noninteractive; a='-q -y --no-install-recommends';"
               " apt-get $a install apt-listchanges"
               " || { apt-get -q update && apt-get $a install apt-listchanges; }; apt-get clean")
    debroot("run", ROOT, "sh", "-c", install)
    with open(READY, "w", encoding="utf-8") as handle:
        handle.write("apt-listchanges installed\n")


def install_our_code():
    """This tree's code where the .deb installs it; the skip path needs nothing else of it."""
    target = os.path.join(ROOT, PACKAGE_DIR.lstrip("/"))
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(REPO, "nova_snapshot_hook"), target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(os.path.join(REPO, "sbin", "nova-snapshot-hook"),
                os.path.join(ROOT, PROGRAM.lstrip("/")))
    os.chmod(os.path.join(ROOT, PROGRAM.lstrip("/")), 0o755)
    debroot("run", ROOT, "python3", "-m", "compileall", "-q", PACKAGE_DIR)


def version_2(stream):
    """The same config and package list in protocol version 2: no arch and multiarch fields."""
    head, _, actions = stream.partition(b"\n\n")
    head = b"VERSION 2" + head[len(b"VERSION 3"):]
    lines = []
    for line in actions.splitlines():
        name, old, _, _, direction, new, _, _, action = line.split(b" ", 8)
        lines.append(b" ".join((name, old, direction, new, action)) + b"\n")
    return head + b"\n\n" + b"".join(lines)


def stand_in_debs(stream, scratch):
    """A stand-in .deb at each path the list names, and the old versions of upgraded packages
    installed in the root. Returns the news apt-listchanges must show."""
    installed = installed_versions()
    news = []
    for line in stream.partition(b"\n\n")[2].decode().splitlines():
        name, old, _, _, direction, new, arch, _, action = line.split(" ", 8)
        if not action.startswith("/"):
            continue
        deb = build_deb(scratch, name, new, arch, NEWS.format(name=name, version=new))
        target = os.path.join(ROOT, action.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(deb, target)
        if old != "-" and direction == "<":
            news.append(NEWS.format(name=name, version=new))
            if installed.get(name) != old:
                shutil.copy(build_deb(scratch, name, old, arch, None),
                            os.path.join(ROOT, "tmp", "nsh-bench-old.deb"))
                debroot("run", ROOT, "dpkg", "-i", "/tmp/nsh-bench-old.deb")
    return news


def build_deb(scratch, name, version, arch, news):
    tree = tempfile.mkdtemp(dir=scratch)
    os.makedirs(os.path.join(tree, "DEBIAN"))
    with open(os.path.join(tree, "DEBIAN", "control"), "w", encoding="utf-8") as handle:
        handle.write(f"Package: {name}\nVersion: {version}\nArchitecture: {arch}\n"
                     "Maintainer: bench <bench@example.org>\nDescription: a benchmark stand-in\n"
                     " for bench/apt_listchanges.py\n")
    if news:
        doc = os.path.join(tree, "usr", "share", "doc", name)
        os.makedirs(doc)
        entry = (f"{name} ({version}) unstable; urgency=medium\n\n  * {news}\n\n"
                 " -- bench <bench@example.org>  Thu, 26 Nov 2026 00:00:00 +0000\n")
        with open(os.path.join(doc, "NEWS.Debian.gz"), "wb") as handle:
            handle.write(gzip.compress(entry.encode(), mtime=0))
    deb = tree + ".deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb],
                   check=True, capture_output=True)
    return deb


def installed_versions():
    with open(os.path.join(ROOT, "var", "lib", "dpkg", "status"), encoding="utf-8") as handle:
        stanzas = handle.read().split("\n\n")
    versions = {}
    for stanza in stanzas:
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line
                      and not line.startswith(" "))
        if fields.get("Status") == "install ok installed":
            versions[fields.get("Package")] = fields.get("Version")
    return versions


def measure(runs):
    with tempfile.TemporaryDirectory() as scratch:
        streams, _ = hook_fast_path.make_streams(scratch)
        with open(streams["skip-option"], "rb") as handle:
            skip_stream = handle.read()
        news = stand_in_debs(skip_stream, scratch)
        work = os.path.join(ROOT, WORK.lstrip("/"))
        os.makedirs(work, exist_ok=True)
        files = {"skip-v3": skip_stream, "skip-v2": version_2(skip_stream)}
        with open(streams["skip-large"], "rb") as handle:
            files["large-v3"] = handle.read()
        for name, data in files.items():
            with open(os.path.join(work, name), "wb") as handle:
                handle.write(data)
    commands = [
        {"name": "python", "argv": ["/usr/bin/python3", "-I", "-c", "pass"],
         "stream": f"{WORK}/skip-v3", "version": "-"},
        {"name": "ours", "argv": [PROGRAM, "apt-hook"], "stream": f"{WORK}/skip-v3",
         "version": "3"},
        {"name": "ours-large", "argv": [PROGRAM, "apt-hook"], "stream": f"{WORK}/large-v3",
         "version": "3"},
        {"name": "apt-listchanges", "argv": LISTCHANGES, "stream": f"{WORK}/skip-v2",
         "reset": SEEN_DB, "version": "2"},
    ]
    shutil.copy(os.path.join(REPO, "bench", "support", "timing_in_root.py"), work)
    with open(os.path.join(work, "spec.json"), "w", encoding="utf-8") as handle:
        json.dump(commands, handle)
    out = debroot("run", ROOT, "python3", "-I", f"{WORK}/timing_in_root.py",
                  f"{WORK}/spec.json", str(runs))
    result = json.loads(out)
    sizes = {c["name"]: len(files[os.path.basename(c["stream"])]) for c in commands}
    return commands, sizes, result, news


def problems(checks, news):
    """What shows that a command did not do the work it is meant to, if anything."""
    found = []
    for name in ("ours", "ours-large"):
        check = checks[name]
        if (check["status"], check["stdout"], check["stderr"]) != (0, SKIP_LINE, ""):
            found.append(f"{name}: status {check['status']}, output {check['stdout']!r}"
                         f" {check['stderr']!r}: not the skip line alone")
    listchanges = checks["apt-listchanges"]
    missing = [text for text in news if text not in listchanges["stdout"]]
    if listchanges["status"] != 0 or missing or not news:
        found.append(f"apt-listchanges: status {listchanges['status']}, news missing"
                     f" {missing or 'no upgrade in the list'}: {listchanges['stderr'][-200:]!r}")
    found += [f"{name}: status {check['changed']} in a timed run, {check['status']} untimed"
              for name, check in checks.items() if "changed" in check]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--fresh", action="store_true", help="remake the bench root first")
    args = parser.parse_args()
    try:
        prepare_root(args.fresh)
        install_our_code()
        commands, sizes, result, news = measure(args.runs)
    except (Skipped, OSError, subprocess.SubprocessError) as err:
        print(f"apt-listchanges comparison skipped: {err}")
        return 0
    times, checks = result["times"], result["checks"]
    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["python"]
    release = installed_versions().get("apt-listchanges", "?")
    print(f"inside a Debian 12 root ({os.path.relpath(ROOT, REPO)}): python3 {result['python']},"
          f" apt-listchanges {release}, {args.runs} alternating runs each, medians")
    print("the same config and package list for both hooks, each in the protocol version its"
          " apt.conf line asks for: ours 3, apt-listchanges 2 (it refuses any other)")
    print(f"{'command':<16} {'protocol':>8} {'stream':>10} {'median ms':>10} {'ratio':>6}")
    for command in commands:
        name = command["name"]
        size = f"{sizes[name]} B" if name != "python" else "-"
        print(f"{name:<16} {command['version']:>8} {size:>10} {median[name] * 1000:>10.2f}"
              f" {median[name] / base:>6.2f}")
    target = hook_fast_path.TARGET
    worst = max(median["ours"], median["ours-large"]) / base
    print(f"ours / python: {median['ours'] / base:.2f} (ours-large"
          f" {median['ours-large'] / base:.2f}), P1a target <= {target}"
          f" {'met' if worst <= target else 'MISSED'}")
    print(f"apt-listchanges / python: {median['apt-listchanges'] / base:.2f}")
    print(f"ours / apt-listchanges: {median['ours'] / median['apt-listchanges']:.2f}")
    found = problems(checks, news)
    for problem in found:
        print(f"CHECK FAILED, the figures above do not mean what they say: {problem}")
    if not found:
        print("checked: ours printed the skip line alone; apt-listchanges showed the upgraded"
              " package's news (its seen-database reset before every run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
