"""Is the hook registered with apt? apt's configuration read as apt reads it, for `check`.

apt runs the hook only if, after every file of apt.conf.d has been read, DPkg::Pre-Install-Pkgs
still holds its line, the options under the line's first word ask for stream version 3 on an
InfoFD, and NovaSnapshotHook::Skip is not switched on for every run. Any file can undo the
shipped /etc/apt/apt.conf.d/80nova-snapshot-hook: a later one with
`#clear DPkg::Pre-Install-Pkgs;`, `NovaSnapshotHook::Skip "true";` or another Version.

python3-apt (apt_pkg) reads the files with apt's own parser and apt's own order. It is imported
here only, for `check`: the hook itself never imports it (its start-up cost, doc/hook-speed.md).
The verdict (`assess`) is a pure function of plain values; reading apt is at the edges.
"""

import os
from dataclasses import dataclass

from .policy import SKIP_KEY
from .stream import PROGRAM, parse_bool

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
PRE_INSTALL_KEY = "DPkg::Pre-Install-Pkgs"
POST_INVOKE_KEY = "DPkg::Post-Invoke"
OPTIONS_KEY = f"DPkg::Tools::Options::{PROGRAM}"
VERSION_KEY = f"{OPTIONS_KEY}::Version"
INFO_FD_KEY = f"{OPTIONS_KEY}::InfoFD"
SHIPPED_FILE = "/etc/apt/apt.conf.d/80nova-snapshot-hook"
# The shipped line: exit status 99 (strict mode) stops apt; a crash or a removed program do not.
SHIPPED_LINE = f"{PROGRAM} apt-hook || test $? -ne 99"
SHIPPED_INFO_FD = "20"
POST_INVOKE_COMMAND = f"{PROGRAM} apt-post-invoke"
RESTORE_CONFFILE = ("apt install --reinstall -o Dpkg::Options::=--force-confmiss "
                    "nova-snapshot-hook")


@dataclass(frozen=True)
class AptHookSettings:
    """What apt's configuration says about the hook, as plain values (no apt_pkg)."""
    pre_install: tuple = ()
    post_invoke: tuple = ()
    version: str = None
    info_fd: str = None
    skip: str = None


@dataclass(frozen=True)
class Registration:
    """`state` is OK, WARN, FAIL or SKIP; `text` is one line naming the file or key to fix;
    `findings` every (state, text) found, worst first."""
    state: str
    text: str
    findings: tuple = ()
    files: tuple = ()


@dataclass
class Blame:
    """Which configuration file last changed each value (None: not known)."""
    skip: str = None
    pre_install: str = None
    version: str = None
    info_fd: str = None
    hook_line: str = None


# ------------------------------------------------------------------------------ pure verdict

def is_hook_line(command):
    """Our Pre-Install-Pkgs line: apt takes the first word as the program's name."""
    words = command.split()
    return words[:2] == [PROGRAM, "apt-hook"]


def mentions_hook(command):
    return "nova-snapshot-hook" in command and "apt-hook" in command


def assess(settings, blame=None):
    """The verdict on `settings` (AptHookSettings); `blame` names the files to point at."""
    blame = blame or Blame()
    findings = []
    hook_lines = [line for line in settings.pre_install if is_hook_line(line)]
    skip_value = settings.skip
    if parse_bool(skip_value, False):
        where = f" in {blame.skip}" if blame.skip else ""
        findings.append((FAIL, f"{SKIP_KEY} is \"{skip_value}\"{where}, so every apt run goes "
                               f"without a backup: remove it (apt -o {SKIP_KEY}=true ... skips "
                               "one run)"))
    if not hook_lines:
        findings.append((FAIL, _missing_line(settings, blame)))
    else:
        findings.extend(_line_findings(settings, blame, hook_lines))
    if not any(POST_INVOKE_COMMAND in line for line in settings.post_invoke):
        findings.append((WARN, f"{POST_INVOKE_KEY} has no '{POST_INVOKE_COMMAND}' line, so "
                               "backup images do not record how the apt run ended: restore "
                               f"{SHIPPED_FILE} ({RESTORE_CONFFILE})"))
    findings.sort(key=lambda finding: (FAIL, WARN).index(finding[0]))
    if findings:
        return Registration(findings[0][0], findings[0][1], tuple(findings))
    source = f" (from {blame.hook_line})" if blame.hook_line else ""
    return Registration(OK, f"apt runs {PROGRAM} apt-hook before dpkg{source}, stream version "
                            f"{settings.version} on InfoFD {settings.info_fd}; "
                            f"{POST_INVOKE_KEY} records the outcome")


def _missing_line(settings, blame):
    elsewhere = [line for line in settings.pre_install if mentions_hook(line)]
    if elsewhere:
        return (f"{PRE_INSTALL_KEY} runs {elsewhere[0]!r}, whose first word is not {PROGRAM}: "
                f"apt looks up the Version and InfoFD options under the first word; start the "
                f"line with {PROGRAM} as in {SHIPPED_FILE}")
    if blame.pre_install:
        return (f"{PRE_INSTALL_KEY} no longer holds '{PROGRAM} apt-hook': {blame.pre_install} "
                f"clears the list after {blame.hook_line or SHIPPED_FILE} set it, so apt takes "
                "no backup: "
                f"remove the '#clear {PRE_INSTALL_KEY};' there, or add the hook's line after it")
    return (f"{PRE_INSTALL_KEY} has no '{PROGRAM} apt-hook' line, so apt takes no backup: "
            f"restore {SHIPPED_FILE} ({RESTORE_CONFFILE})")


def _line_findings(settings, blame, hook_lines):
    where = {key: f" (set in {path})" if path else ""
             for key, path in (("version", blame.version), ("info_fd", blame.info_fd))}
    if settings.version is None:
        yield FAIL, (f"{VERSION_KEY} is not set, so apt sends the hook only .deb paths and no "
                     f"backup is taken: set it to \"3\" as in {SHIPPED_FILE}")
    elif settings.version.strip() == "2":
        yield WARN, (f"{VERSION_KEY} is \"2\"{where['version']}: the hook works, but the "
                     "changes recorded on the image lack architectures; set it to \"3\"")
    elif settings.version.strip() != "3":
        yield FAIL, (f"{VERSION_KEY} is {settings.version!r}{where['version']}; the hook reads "
                     "stream versions 2 and 3, so no backup is taken: set it to \"3\"")
    info_fd = (settings.info_fd or "").strip()
    if not info_fd.isdigit() or int(info_fd) < 3:
        what = f"is {settings.info_fd!r}{where['info_fd']}" if settings.info_fd else "is not set"
        yield WARN, (f"{INFO_FD_KEY} {what}, so apt sends the package list on the hook's "
                     f"standard input: set it to \"{SHIPPED_INFO_FD}\" as in {SHIPPED_FILE}")
    if len(hook_lines) > 1:
        yield WARN, (f"{PRE_INSTALL_KEY} holds '{PROGRAM} apt-hook' {len(hook_lines)} times, so "
                     "apt runs the hook more than once: keep the one of " + SHIPPED_FILE)
    elif hook_lines[0].strip() != SHIPPED_LINE:
        where_line = f" in {blame.hook_line}" if blame.hook_line else ""
        yield WARN, (f"the hook's {PRE_INSTALL_KEY} line{where_line} is {hook_lines[0]!r}, not "
                     f"the shipped {SHIPPED_LINE!r}: without '|| test $? -ne 99' a crash of the "
                     "hook or a removed program stops apt")


# ------------------------------------------------------------------------------ reading apt

def settings_of(config):
    """AptHookSettings from an apt_pkg.Configuration (or anything with its find/value_list)."""
    def value(key):
        return config.find(key) if config.exists(key) else None
    return AptHookSettings(tuple(config.value_list(PRE_INSTALL_KEY)),
                           tuple(config.value_list(POST_INVOKE_KEY)),
                           value(VERSION_KEY), value(INFO_FD_KEY), value(SKIP_KEY))


def hook_registration(root=None):
    """apt's configuration as apt reads it (APT_CONFIG, apt.conf.d, apt.conf), judged.

    `root` reads the files below another root directory (apt's Dir), for tests and chroots.
    Never raises for a missing python3-apt or a broken file: the verdict says so in one line.
    """
    try:
        import apt_pkg      # lazily: only `check` pays for it
    except ImportError:
        return Registration(SKIP, "python3-apt is not installed, so apt's configuration cannot "
                                  "be read (apt install python3-apt)")
    try:
        config, files = read_apt_config(apt_pkg, root)
    except (SystemError, apt_pkg.Error) as err:
        return Registration(FAIL, f"apt's configuration cannot be read: {_one_line(err)} "
                                  "(apt itself stops on it: correct that file)")
    verdict = assess(settings_of(config), blame_files(apt_pkg, files))
    return Registration(verdict.state, verdict.text, verdict.findings, tuple(files))


def read_apt_config(apt_pkg, root=None):
    """apt_pkg's global configuration, emptied, then filled by apt_pkg.init_config() exactly as
    an apt run fills it; and the files it read, in apt's order (for naming them)."""
    config = apt_pkg.config
    _empty(config)
    if root:
        config.set("Dir", os.path.join(os.path.abspath(root), ""))
    apt_pkg.init_config()
    return config, config_files(config)


def _empty(config):
    """A second init_config would append to the lists of the first: start from nothing."""
    for key in config.list():
        config.clear(key)


def config_files(config):
    """The files apt's init_config reads, in its order: $APT_CONFIG, the parts directory
    (apt's file name rules: run-parts characters, no extension or .conf; sorted), apt.conf."""
    files = []
    alternate = os.environ.get("APT_CONFIG")
    if alternate:
        files.append(alternate)
    parts = config.find_dir("Dir::Etc::parts", "/dev/null")
    if os.path.isdir(parts):
        files.extend(os.path.join(parts, name) for name in sorted(os.listdir(parts))
                     if _read_by_apt(name) and os.path.isfile(os.path.join(parts, name)))
    main = config.find_file("Dir::Etc::main", "/dev/null")
    if os.path.isfile(main):
        files.append(main)
    return files


def _read_by_apt(name):
    if not name or name.endswith("."):
        return False
    if any(not (char.isascii() and (char.isalnum() or char in "_-:.")) for char in name):
        return False
    return "." not in name or name.rsplit(".", 1)[1] == "conf"


def blame_files(apt_pkg, files):
    """Read `files` one after another into a fresh Configuration, noting which file last
    changed each value: the file to name when the end result is wrong."""
    blame = Blame()
    config = apt_pkg.Configuration()
    before = settings_of(config)
    for path in files:
        try:
            apt_pkg.read_config_file(config, path)
        except (SystemError, apt_pkg.Error):
            continue        # init_config read them all: a broken file was reported already
        after = settings_of(config)
        if after.skip != before.skip:
            blame.skip = path
        if after.version != before.version:
            blame.version = path
        if after.info_fd != before.info_fd:
            blame.info_fd = path
        had = any(is_hook_line(line) for line in before.pre_install)
        has = any(is_hook_line(line) for line in after.pre_install)
        if has and not had:
            blame.hook_line, blame.pre_install = path, None
        elif had and not has:
            blame.pre_install = path
        before = after
    return blame


def _one_line(err):
    return " ".join(str(err).split())
