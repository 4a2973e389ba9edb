"""The package's life, for real, in throwaway Debian 12 and 13 roots: install (plain and
preseeded), dpkg-reconfigure, hand edits, upgrade, remove, purge; then Debian's own checks
(autopkgtest, piuparts). No cloud is needed: the tool's obedience is checked with its dry runs.

Never the host's apt: tests/e2e/debroot runs apt and dpkg only chrooted into the roots.
`make check` builds the .deb and passes its path in NSH_DEB.
"""

import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEBROOT = os.path.join(HERE, "debroot")
CHECKS = os.path.join(HERE, "debian-checks")
SUITES = ("bookworm", "trixie")
PKG = "nova-snapshot-hook"
PROG = "/usr/sbin/nova-snapshot-hook"
SETTINGS = "/etc/nova-snapshot-hook/nova-snapshot-hook.conf"
CRON = "/etc/cron.d/nova-snapshot-hook"
NEWER = "9.9.9"           # the version of the "newer build" made by repacking the .deb
# Paths whose content changes with any apt or dpkg run, not files the package created; and
# ucf's own state (its backups of its registry, and its cache directory, made on first use).
CHURN = ("proc", "dev", "sys", "tmp", "var/lib/dpkg", "var/lib/apt", "var/cache", "var/log",
         "var/lib/ucf/hashfile.", "var/lib/ucf/registry.", "var/lib/ucf/cache",
         "etc/ld.so.cache", "root/.cache")


def required():
    return os.environ.get("NSH_REQUIRE_CLOUD") == "1"


def skip_or_fail(reason):
    (pytest.fail if required() else pytest.skip)(reason)


def built_deb():
    deb = os.environ.get("NSH_DEB") or os.path.join(REPO, "build", f"{PKG}_0.1.0_all.deb")
    if not os.path.exists(deb):
        skip_or_fail("no built .deb: run make deb (make check does)")
    return deb


def debroot(*args, check=True, **kwargs):
    result = subprocess.run([DEBROOT, *args], capture_output=True, text=True, timeout=900,
                            stdin=subprocess.DEVNULL, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"debroot {' '.join(args[:3])} failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def repack(deb, version, workdir):
    """The same package as a newer build: dpkg-deb unpacks it, the version goes up, and the
    settings template gets a new comment (which must not reach the existing settings file)."""
    tree = os.path.join(workdir, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-R", deb, tree], check=True)
    control = os.path.join(tree, "DEBIAN", "control")
    with open(control, encoding="utf-8") as handle:
        text = handle.read()
    with open(control, "w", encoding="utf-8") as handle:
        handle.write("".join(f"Version: {version}\n" if line.startswith("Version:") else line + "\n"
                             for line in text.splitlines()))
    with open(os.path.join(tree, "usr/share/nova-snapshot-hook/nova-snapshot-hook.conf"), "a",
              encoding="utf-8") as handle:
        handle.write("# a comment new in the newer build\n")
    newer = os.path.join(workdir, f"{PKG}_{version}_all.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tree, newer], check=True,
                   capture_output=True)
    return newer


def dummy_deb(workdir):
    """A package of nothing, to check that apt still installs and removes packages."""
    tree = os.path.join(workdir, "dummy")
    os.makedirs(os.path.join(tree, "DEBIAN"), exist_ok=True)
    with open(os.path.join(tree, "DEBIAN", "control"), "w", encoding="utf-8") as handle:
        handle.write("Package: nsh-lifecycle-dummy\nVersion: 1.0\nArchitecture: all\n"
                     "Maintainer: tests <tests@example.org>\nDescription: test package\n"
                     " Installed and removed by the lifecycle tests.\n")
    path = os.path.join(workdir, "nsh-lifecycle-dummy_1.0_all.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tree, path], check=True,
                   capture_output=True)
    return path


class Root:
    def __init__(self, suite):
        self.suite = suite
        self.path = os.path.join(REPO, "build", "roots", f"lifecycle-{suite}")
        self.work = os.path.join(REPO, "build", "lifecycle", suite)
        self.baseline = None

    def file(self, path):
        return os.path.join(self.path, path.lstrip("/"))

    def read(self, path):
        with open(self.file(path), encoding="utf-8") as handle:
            return handle.read()

    def write(self, path, text):
        with open(self.file(path), "w", encoding="utf-8") as handle:
            handle.write(text)

    def run(self, *command, env=(), check=False):
        result = debroot("run", self.path, "env", *env, *command, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def sh(self, script, env=(), check=True):
        return self.run("/bin/sh", "-ec", script, env=env, check=check)

    def apt(self, *args, env=("DEBIAN_FRONTEND=noninteractive",)):
        return self.run("apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0", *args, env=env, check=True)

    def put(self, deb):
        """Copy a .deb into the root's /tmp; returns its path inside."""
        inside = "/tmp/" + os.path.basename(deb)
        shutil.copy(deb, self.file(inside))
        os.chmod(self.file(inside), 0o644)
        return inside

    def preseed(self, *lines):
        text = "".join(f"{PKG} {PKG}/{line}\n" for line in lines)
        self.write("/tmp/preseed", text)
        self.run("debconf-set-selections", "/tmp/preseed", check=True)

    def debconf(self):
        """{question: (value, seen)} from debconf-show."""
        answers = {}
        for line in self.run("debconf-show", PKG, check=True).stdout.splitlines():
            seen = line.startswith("*")
            name, _, value = line[2:].partition(":")
            answers[name.strip().split("/", 1)[1]] = (value.strip(), seen)
        return answers

    def setting(self, section, key):
        result = self.run("/bin/sh", "/usr/share/nova-snapshot-hook/settings-edit", "--get",
                          SETTINGS, section, key)
        return result.stdout.strip() if result.returncode == 0 else None

    def dry_run(self, day, *extra):
        result = self.run(PROG, "scheduled", "--dry-run", "--no-delay", "--date", day, *extra)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def files(self):
        """Every path in the root but the churn of apt and dpkg."""
        found = set()
        for top, dirs, names in os.walk(self.path):
            relative = os.path.relpath(top, self.path)
            relative = "" if relative == "." else relative + "/"
            dirs[:] = [d for d in dirs if not (relative + d).startswith(CHURN)]
            found.update(relative + name for name in names + dirs
                         if not (relative + name).startswith(CHURN))
        return found

    def cron_command(self):
        for line in self.read(CRON).splitlines():
            if line[:1].isdigit() or line.startswith("*"):
                return line.split("\t", 2)[2]
        raise AssertionError(f"no entry in {CRON}")


@pytest.fixture(scope="module", params=SUITES)
def root(request):
    deb = built_deb()
    made = Root(request.param)
    debroot("destroy", made.path)
    shutil.rmtree(made.work, ignore_errors=True)
    os.makedirs(made.work)
    # A private copy: "make deb" elsewhere deletes and rebuilds build/*.deb meanwhile.
    made.own_deb = os.path.join(made.work, os.path.basename(deb))
    shutil.copy(deb, made.own_deb)
    debroot("create", made.suite, made.path)
    # The package's dependencies first, so that the baseline holds them and only what the
    # package itself creates can differ after purge.
    made.apt("install", "--no-install-recommends", "ucf")
    made.baseline = made.files()
    made.deb = made.put(made.own_deb)
    yield made
    debroot("destroy", made.path)


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """PID 1 here is not systemd: verify the units against a copy of the host's unit tree."""
    if not shutil.which("systemd-analyze") or not os.path.isdir("/lib/systemd/system"):
        pytest.skip("systemd-analyze is not installed (package systemd)")
    units = tmp_path / "lib" / "systemd"
    shutil.copytree("/lib/systemd/system", units / "system", symlinks=True)
    for unit in ("nova-snapshot-hook.service", "nova-snapshot-hook.timer"):
        shutil.copy(os.path.join(REPO, "debian", unit), units / "system" / unit)
    program = tmp_path / "usr" / "sbin" / "nova-snapshot-hook"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={tmp_path}",
                             "nova-snapshot-hook.timer", "nova-snapshot-hook.service"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    timer = open(os.path.join(REPO, "debian", "nova-snapshot-hook.timer")).read()
    assert "Persistent=true" in timer and "OnCalendar=*-*-* 01:01:00" in timer
    cron = open(os.path.join(REPO, "etc", "cron.d", "nova-snapshot-hook")).read()
    assert "\n1 1 * * *\troot\t" in cron


def test_a_plain_install_asks_nothing_and_works(root):
    # A real frontend at debconf's default priority, with no answers to give: any question
    # of priority high or critical would be shown, and marked as seen.
    result = root.apt("install", "--no-install-recommends", root.deb,
                      env=("DEBIAN_FRONTEND=teletype", "DEBIAN_PRIORITY=high"))
    assert "Take a backup image" not in result.stdout + result.stderr
    answers = root.debconf()
    assert answers and not [name for name, (_, seen) in answers.items() if seen]
    assert root.setting("apt", "rotation") == "5" and root.setting("schedule", "yearly") == "2"
    assert "Would take the yearly backup" in root.dry_run("2027-01-01")
    conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", PKG, check=True).stdout
    assert CRON in conffiles and SETTINGS not in conffiles


def test_the_cron_entry_prints_nothing_while_no_credentials_exist(root):
    result = root.run("/bin/sh", "-c", root.cron_command(), env=("-i", "PATH=/usr/bin:/bin"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_purge_after_a_plain_install_leaves_nothing(root):
    root.apt("purge", PKG)
    assert root.files() == root.baseline


def test_a_preseeded_install_asks_nothing_and_uses_the_answers(root):
    root.preseed("apt-rotation string 9", "schedules multiselect daily, monthly",
                 "daily-rotation string 3", "failure-policy select strict",
                 "apt-operations multiselect upgrade, remove", "server-id string abc-123")
    root.apt("install", "--no-install-recommends", root.deb)
    assert root.setting("apt", "rotation") == "9" and root.setting("apt", "strict") == "yes"
    assert root.setting("apt", "operations") == "upgrade remove"
    assert root.setting("server", "id") == "abc-123"
    assert [root.setting("schedule", tier) for tier in ("daily", "weekly", "monthly", "yearly")] \
        == ["3", "0", "12", "0"]
    assert "Would take the monthly backup" in root.dry_run("2027-01-01")
    assert "Would take the daily backup" in root.dry_run("2026-11-29")     # weekly is off
    assert "rotation 3" in root.dry_run("2026-11-29")


def test_dpkg_reconfigure_applies_answers_set_with_debconf_set_selections(root):
    root.preseed("schedules multiselect daily, weekly, monthly, yearly",
                 "yearly-rotation string 4", "apt-enabled boolean false")
    root.run("dpkg-reconfigure", "-f", "noninteractive", PKG, check=True)
    assert root.setting("schedule", "yearly") == "4" and root.setting("apt", "enabled") == "no"
    out = root.dry_run("2027-01-01")
    assert "Would take the yearly backup" in out and "rotation 4" in out
    assert "Would take the weekly backup" in root.dry_run("2026-11-29")


def test_hand_edits_survive_dpkg_reconfigure_and_come_back_into_debconf(root):
    text = root.read(SETTINGS)
    edited = (text.replace("weekly = 4", "weekly = 6\n# weekly: six, says the admin")
                  .replace("# max_delay = 3600", "max_delay = 120")
              + "\n# the admin's own note, kept\n")
    assert edited != text
    root.write(SETTINGS, edited)
    # Another answer changes at the same time: both must hold afterwards.
    root.preseed("monthly-rotation string 10")
    root.run("dpkg-reconfigure", "-f", "noninteractive", PKG, check=True)
    assert root.read(SETTINGS) == edited.replace("monthly = 12", "monthly = 10")
    assert root.debconf()["weekly-rotation"][0] == "6"
    assert "rotation 6" in root.dry_run("2026-11-29")
    with_delay = root.run(PROG, "scheduled", "--dry-run", "--date", "2026-11-29").stdout
    assert "of at most 120 s" in with_delay


def test_switching_a_tier_off_by_hand_reaches_debconf(root):
    root.write(SETTINGS, root.read(SETTINGS).replace("yearly = 4", "yearly = 0"))
    root.run("dpkg-reconfigure", "-f", "noninteractive", PKG, check=True)
    assert "yearly" not in root.debconf()["schedules"][0]
    assert root.setting("schedule", "yearly") == "0"
    assert "Would take the monthly backup" in root.dry_run("2027-01-01")


def test_hand_edits_survive_an_upgrade_to_a_newer_build(root):
    before = root.read(SETTINGS)
    newer = root.put(repack(root.own_deb, NEWER, root.work))
    root.apt("install", "--no-install-recommends", newer)
    version = root.run("dpkg-query", "-W", "-f=${Version}", PKG, check=True).stdout
    assert version == NEWER
    assert root.read(SETTINGS) == before
    assert "a comment new in the newer build" in root.read(
        "/usr/share/nova-snapshot-hook/nova-snapshot-hook.conf")


def test_remove_leaves_apt_and_cron_working_with_the_program_gone(root):
    root.apt("remove", PKG)
    assert not os.path.exists(root.file(PROG))
    assert os.path.exists(root.file(CRON)) and os.path.exists(root.file(SETTINGS))
    assert os.path.exists(root.file("/etc/nova-snapshot-hook/credentials"))
    # The cron entry, by hand, as cron runs it: nothing printed, exit status 0.
    result = root.run("/bin/sh", "-c", root.cron_command(), env=("-i", "PATH=/usr/bin:/bin"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    # apt still installs and removes packages, through whatever hook lines stayed behind.
    dummy = root.put(dummy_deb(root.work))
    root.apt("install", dummy)
    root.apt("remove", "nsh-lifecycle-dummy")


def test_purge_removes_settings_ucf_registration_debconf_answers_and_every_file(root):
    root.apt("purge", PKG)
    assert not os.path.exists(root.file(SETTINGS))
    assert not os.path.exists(root.file("/etc/nova-snapshot-hook"))
    assert not os.path.exists(root.file("/var/lib/nova-snapshot-hook"))
    assert not os.path.exists(root.file("/run/nova-snapshot-hook"))
    # ucfq -w prints FILE:PACKAGE:EXISTS:CHANGED; an unknown file has an empty PACKAGE.
    assert root.run("ucfq", "-w", SETTINGS, check=True).stdout.strip() == f"{SETTINGS}:::"
    assert root.run("ucfq", "-w", PKG, check=True).stdout.strip() == ""
    assert root.run("debconf-show", PKG, check=True).stdout == ""
    assert root.files() == root.baseline, sorted(root.files() ^ root.baseline)


def test_a_settings_file_written_before_the_install_is_kept_and_read_into_debconf(root):
    """The README told users to write the settings file by hand before the package managed it:
    an install then keeps it (only the missing managed keys are added) and debconf follows it."""
    os.makedirs(root.file("/etc/nova-snapshot-hook"))
    hand_made = "# mine\n[server]\nid = hand-made\nmetadata_url =\n[schedule]\nweekly = 0\n"
    root.write(SETTINGS, hand_made)
    root.preseed("server-id string preseeded")      # the file wins over an older answer
    root.apt("install", "--no-install-recommends", root.deb)
    text = root.read(SETTINGS)
    assert text.startswith("# mine\n[server]\nid = hand-made\nmetadata_url =\n[schedule]\nweekly = 0\n")
    assert root.setting("schedule", "daily") == "7" and root.setting("apt", "rotation") == "5"
    assert root.debconf()["server-id"][0] == "hand-made"
    assert "weekly" not in root.debconf()["schedules"][0]
    root.apt("purge", PKG)
    assert root.files() == root.baseline, sorted(root.files() ^ root.baseline)


@pytest.mark.parametrize("check", ["autopkgtest", "piuparts"])
def test_debian_checks_pass(root, check):
    """debian/tests with autopkgtest (chroot backend), and piuparts, each in a fresh root."""
    if not shutil.which(check, path="/usr/bin:/usr/sbin"):
        skip_or_fail(f"{check} is not installed (tests/install-deps installs it)")
    result = subprocess.run([CHECKS, check, root.suite, root.own_deb], capture_output=True,
                            text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
