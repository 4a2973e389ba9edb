"""The settings file: /etc/nova-snapshot-hook/nova-snapshot-hook.conf (INI).

Every key has a default, so a missing file means defaults. A bad value is reported with the file,
the section and the key, never a traceback. Credentials live in their own conffile (credentials.py).

TABLE below is the one list of the keys: their defaults, parsers and debconf questions. The
shipped settings file, the man page's list and the debconf templates and checks are tested
against it (tests/unit/test_settings_table.py).

Nothing is imported at the top but what the interpreter has already loaded, and paths.py (os
alone; the apt hook loads it anyway): the apt hook reads the settings on every run that gets past
apt's stream, and apt/policy.py takes DEFAULT_IMPORTANT from here before that
(doc/hook-speed.md).
"""

import os

from . import paths

DEFAULT_METADATA_URL = "http://169.254.169.254/openstack/latest/meta_data.json"
METHODS = ("auto", "backup", "image")
OPERATION_WORDS = ("install", "upgrade", "downgrade", "remove", "reinstall")
# Packages whose change can stop the VM from booting, from being reached, or from being
# administered. Kernel headers are left out: they do not change what boots.
DEFAULT_IMPORTANT = (
    "linux-image-*", "grub*", "shim-signed*", "initramfs-tools*", "dracut*",
    "libc6", "libc-bin", "systemd", "systemd-sysv", "udev",
    "openssh-server", "libssl3*", "libpam*", "sudo",
    "cloud-init", "ifupdown", "netplan.io", "dpkg", "apt",
)


# The parsers: text of the file -> value; ValueError says what is wrong.
HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
_WORDS = {HOUR: " (an hour)", DAY: " (a day)", WEEK: " (a week)"}
MOST_KEPT = 1000        # backups of one series: far past any quota, and no huge int sent to Nova


def _between(kind, least, most, *, above=False, unit="", note=""):
    """A parser of numbers of `kind` (int, float) from `least` (or above it) to `most`.

    Every number has a ceiling: `inf` or 1e10 seconds would pass a lower bound alone and crash
    signal.setitimer (the watchdog) much later, far from the file that said it."""
    low = f"greater than {least}" if above else f"{least} or more"
    high = f"at most {most}{unit}{_WORDS.get(most, '')}"
    what = "a whole number" if kind is int else "a number"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:       # int("1e10"), float("soon"), or an int of 5000 digits
            value = None
        if value is None or value != value:                     # NaN equals nothing
            raise ValueError(f"must be {what}, {low} and {high}")
        if not (value > least if above else value >= least):
            raise ValueError(f"must be {low}{unit}{note}")
        if value > most:                                        # inf included
            raise ValueError(f"must be {high}")
        return value
    return parse


_count = _between(int, 0, MOST_KEPT)
_rotation = _between(int, 1, MOST_KEPT, note=" (Nova's rotation 0 deletes the new backup too)")
_positive_seconds = _between(float, 0, DAY, above=True, unit=" seconds")   # timeouts and waits
_poll_seconds = _between(float, 0, HOUR, above=True, unit=" seconds")
_delay_seconds = _between(float, 0, DAY, unit=" seconds")      # the scheduled run is daily
_interval_seconds = _between(float, 0, WEEK, unit=" seconds")


def _method(text):
    if text not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)}")
    return text


def _pre_failure(text):
    if text.strip() not in ("skip", "snapshot"):
        raise ValueError("must be skip (no backup when a pre hook fails) or snapshot (take the "
                         "crash-consistent backup anyway)")
    return text.strip()


def _boolean(text):
    lowered = text.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    raise ValueError("must be yes or no")


def _text(text):
    return text.strip()


def _words(text):
    """A list of words, separated by spaces or commas."""
    return tuple(word for word in text.replace(",", " ").split() if word)


def _operations(text):
    words = _words(text)
    unknown = [word for word in words if word not in OPERATION_WORDS]
    if unknown:
        raise ValueError(f"unknown operation {unknown[0]!r}; known: {' '.join(OPERATION_WORDS)}")
    return words


def _series(text):
    from .rules.naming import check_series
    problem = check_series(text.strip())
    if problem:
        raise ValueError(problem)
    return text.strip()


class Key:
    """One key of the settings file: [section] name, the Settings attribute, its default, its
    parser, and the debconf question that manages it (None: dpkg-reconfigure does not ask)."""

    __slots__ = ("section", "name", "attribute", "default", "parse", "question")

    def __init__(self, section, name, attribute, default, parse, question=None):
        self.section, self.name, self.attribute = section, name, attribute
        self.default, self.parse, self.question = default, parse, question

    def __repr__(self):
        return f"Key([{self.section}] {self.name})"


_Q = "nova-snapshot-hook/"
TABLE = (
    Key("server", "id", "server_id", "", _text, _Q + "server-id"),  # empty: detect
    Key("server", "identity_root", "identity_root", "/", _text),
    Key("server", "metadata_url", "metadata_url", DEFAULT_METADATA_URL, _text),
    Key("server", "metadata_timeout", "metadata_timeout", 2.0, _positive_seconds),
    Key("snapshot", "method", "method", "auto", _method),
    Key("snapshot", "timeout", "timeout", 600.0, _positive_seconds),  # the whole run, waits included
    Key("snapshot", "poll_interval", "poll_interval", 1.0, _poll_seconds),
    # root-only (0700): a lock others can open, others can hold (files.FileLock)
    Key("snapshot", "lock", "lock_path", paths.LOCK, _text),
    Key("cloud", "credentials", "credentials", paths.CREDENTIALS, _text),
    Key("cloud", "https_proxy", "https_proxy", "", _text),
    Key("cloud", "no_proxy", "no_proxy", "", _text),
    Key("cloud", "api_timeout", "api_timeout", 30.0, _positive_seconds),  # one HTTP request
    Key("log", "syslog", "syslog", True, _boolean),
    # [apt]: the apt hook (policy.HookPolicy takes the decision-making ones)
    Key("apt", "enabled", "apt_enabled", True, _boolean, _Q + "apt-enabled"),
    Key("apt", "operations", "apt_operations", OPERATION_WORDS[:4], _operations,
        _Q + "apt-operations"),
    Key("apt", "rotation", "apt_rotation", 5, _rotation, _Q + "apt-rotation"),
    Key("apt", "strict", "apt_strict", False, _boolean, _Q + "failure-policy"),
    # the longest apt waits for the capture (the lock is held meanwhile)
    Key("apt", "wait", "apt_wait", 300.0, _positive_seconds, _Q + "apt-wait"),
    Key("apt", "series", "apt_series", "apt", _series),
    Key("apt", "include", "apt_include", (), _words),
    Key("apt", "exclude", "apt_exclude", (), _words),
    Key("apt", "important", "apt_important", DEFAULT_IMPORTANT, _words),
    Key("apt", "min_interval", "apt_min_interval", 600.0, _interval_seconds),
    # [schedule]: how many backups each tier keeps; 0 switches the tier off
    Key("schedule", "daily", "daily", 7, _count, _Q + "daily-rotation"),
    Key("schedule", "weekly", "weekly", 4, _count, _Q + "weekly-rotation"),
    Key("schedule", "monthly", "monthly", 12, _count, _Q + "monthly-rotation"),
    Key("schedule", "yearly", "yearly", 2, _count, _Q + "yearly-rotation"),
    # the per-host deterministic spread of the scheduled run
    Key("schedule", "max_delay", "schedule_max_delay", 3600.0, _delay_seconds),
    Key("schedule", "wait", "schedule_wait", 1800.0, _positive_seconds),
    # [hooks]: run-parts style scripts around the snapshot (backup/hooks.py)
    Key("hooks", "directory", "hooks_directory", "/etc/nova-snapshot-hook/hooks.d", _text),
    Key("hooks", "timeout", "hooks_timeout", 60.0, _positive_seconds),   # each hook
    Key("hooks", "pre_failure", "hooks_pre_failure", "skip", _pre_failure),
)
DEFAULTS = {"path": paths.SETTINGS, **{key.attribute: key.default for key in TABLE}}
KEYS = {(key.section, key.name): key for key in TABLE}
KNOWN_SECTIONS = {key.section for key in TABLE}


class Settings:
    """The settings, every key with its default. A plain class, not a dataclass: the apt hook
    reads the settings on every run and `dataclasses` alone costs half an interpreter start-up."""

    __slots__ = tuple(DEFAULTS)

    def __init__(self, **values):
        unknown = set(values) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}")
        for name, default in DEFAULTS.items():
            object.__setattr__(self, name, values.get(name, default))

    def __setattr__(self, name, value):
        raise AttributeError("Settings are read-only")

    def __eq__(self, other):
        return isinstance(other, Settings) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self):
        return f"Settings(path={self.path!r})"


def parse_settings(text, path):
    """Settings from the file's text; raises ConfigError naming path, section and key."""
    import configparser
    from .errors import ConfigError

    # No DEFAULT section: its keys would go into every section, so [DEFAULT] is refused like
    # any other unknown section (a newline cannot be in a section's name).
    parser = configparser.ConfigParser(interpolation=None, strict=True, default_section="\n")
    try:
        parser.read_string(text, source=path)
    except configparser.Error as err:
        errors = getattr(err, "errors", None)      # ParsingError: [(line, text), ...]
        line = errors[0][0] if errors else getattr(err, "lineno", None)
        where = f"{path}:{line}" if line else path
        what = f"not a 'key = value' line: {errors[0][1]}" if errors else err.message.splitlines()[0]
        raise ConfigError(f"{where}: cannot parse the settings: {what}",
                          fix=f"correct {where}") from None
    values = {"path": path}
    for section in parser.sections():
        if section not in KNOWN_SECTIONS:
            _unknown_section(section, text, path, parser.SECTCRE)
        for name, raw in parser[section].items():
            key = KEYS.get((section, name))
            if key is None:
                raise ConfigError(f"{path}: unknown key '{name}' in [{section}]",
                                  fix=f"remove or correct '{name}' in {path}")
            try:
                values[key.attribute] = key.parse(raw)
            except ValueError as err:
                shown = repr(raw if len(raw) <= 40 else raw[:40] + "...")   # one readable line
                raise ConfigError(f"{path}: [{section}] {name} = {shown}: {err}",
                                  fix=f"correct [{section}] {name} in {path}") from None
    return Settings(**values)


def _unknown_section(section, text, path, header):
    """Refuse [section] like an unknown key: a misspelt [shedule] would silently mean defaults."""
    import difflib
    from .errors import ConfigError

    where = path
    for number, content in enumerate(text.split("\n"), 1):     # configparser's lines
        match = header.match(content.strip())
        if match and match.group("header") == section:
            where = f"{path}:{number}"
            break
    known = sorted(KNOWN_SECTIONS)
    close = difflib.get_close_matches(section.lower(), known, n=1)
    shown = repr(section if len(section) <= 40 else section[:40] + "...")[1:-1]
    raise ConfigError(f"{where}: unknown section [{shown}]; the sections are "
                      f"{', '.join(f'[{name}]' for name in known)}",
                      fix=f"rename it [{close[0]}] in {path}" if close else
                      f"remove it, or rename it to one of those, in {path}")


def load_settings(path=None):
    """Read the settings file. The default one missing means defaults; one that --config or
    NOVA_SNAPSHOT_HOOK_CONFIG names must exist (a typo there would silently mean defaults)."""
    from .errors import ConfigError

    named_by = "--config" if path is not None else \
        "NOVA_SNAPSHOT_HOOK_CONFIG" if os.environ.get("NOVA_SNAPSHOT_HOOK_CONFIG") else None
    path = path or os.environ.get("NOVA_SNAPSHOT_HOOK_CONFIG") or paths.SETTINGS
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        if named_by:
            raise ConfigError(f"{path}: no such settings file",
                              fix=f"check the path that {named_by} names") from None
        return Settings(path=path)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the settings: {err}", fix=f"check {path}") from None
    return parse_settings(text, path)
