"""The settings file: /etc/nova-snapshot-hook/nova-snapshot-hook.conf (INI).

Every key has a default, so a missing file means defaults. A bad value is reported with the file,
the section and the key, never a traceback. Credentials live in their own conffile (credentials.py).
"""

import configparser
import os
from dataclasses import dataclass, field

from .errors import ConfigError

DEFAULT_PATH = "/etc/nova-snapshot-hook/nova-snapshot-hook.conf"
DEFAULT_CREDENTIALS = "/etc/nova-snapshot-hook/credentials"
DEFAULT_METADATA_URL = "http://169.254.169.254/openstack/latest/meta_data.json"
METHODS = ("auto", "backup", "image")


@dataclass(frozen=True)
class Settings:
    path: str = DEFAULT_PATH
    # [cloud]
    credentials: str = DEFAULT_CREDENTIALS
    https_proxy: str = ""
    no_proxy: str = ""
    api_timeout: float = 30.0          # one HTTP request; the whole run has its own deadline
    # [server]
    server_id: str = ""                # empty: detect
    identity_root: str = "/"
    metadata_url: str = DEFAULT_METADATA_URL
    metadata_timeout: float = 2.0
    # [snapshot]
    method: str = "auto"
    timeout: float = 600.0             # the whole snapshot command, waits included
    poll_interval: float = 1.0
    lock_path: str = "/run/lock/nova-snapshot-hook.lock"
    syslog: bool = True
    # [apt]: the apt hook (policy.HookPolicy takes the decision-making ones)
    apt_enabled: bool = True
    apt_series: str = "apt"
    apt_rotation: int = 5
    apt_operations: tuple = ("install", "upgrade", "downgrade", "remove")
    apt_include: tuple = ()
    apt_exclude: tuple = ()
    apt_important: tuple = None        # None: policy.DEFAULT_IMPORTANT
    apt_min_interval: float = 600.0
    apt_strict: bool = False
    apt_wait: float = 300.0            # the longest apt waits for the capture (the lock is held)
    # [schedule]: how many backups each tier keeps; 0 switches the tier off
    daily: int = 7
    weekly: int = 4
    monthly: int = 12
    yearly: int = 2
    schedule_max_delay: float = 3600.0  # per-host deterministic spread of the scheduled run
    schedule_wait: float = 1800.0
    extra: dict = field(default_factory=dict, compare=False)   # unknown sections, for later readers


# (section, key) -> (attribute, parser)
def _positive_float(text):
    value = float(text)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _method(text):
    if text not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)}")
    return text


def _boolean(text):
    lowered = text.strip().lower()
    if lowered in ("1", "yes", "true", "on"):
        return True
    if lowered in ("0", "no", "false", "off"):
        return False
    raise ValueError("must be yes or no")


def _text(text):
    return text.strip()


def _count(text):
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _rotation(text):
    value = int(text)
    if value < 1:
        raise ValueError("must be 1 or more (Nova's rotation 0 deletes the new backup too)")
    return value


def _seconds(text):
    value = float(text)
    if value < 0:
        raise ValueError("must be 0 or more seconds")
    return value


def _words(text):
    """A list of words, separated by spaces or commas."""
    return tuple(word for word in text.replace(",", " ").split() if word)


OPERATION_WORDS = ("install", "upgrade", "downgrade", "remove", "reinstall")


def _operations(text):
    words = _words(text)
    unknown = [word for word in words if word not in OPERATION_WORDS]
    if unknown:
        raise ValueError(f"unknown operation {unknown[0]!r}; known: {' '.join(OPERATION_WORDS)}")
    return words


def _series(text):
    from .naming import check_series
    problem = check_series(text.strip())
    if problem:
        raise ValueError(problem)
    return text.strip()


KEYS = {
    ("cloud", "credentials"): ("credentials", _text),
    ("cloud", "https_proxy"): ("https_proxy", _text),
    ("cloud", "no_proxy"): ("no_proxy", _text),
    ("cloud", "api_timeout"): ("api_timeout", _positive_float),
    ("server", "id"): ("server_id", _text),
    ("server", "identity_root"): ("identity_root", _text),
    ("server", "metadata_url"): ("metadata_url", _text),
    ("server", "metadata_timeout"): ("metadata_timeout", _positive_float),
    ("snapshot", "method"): ("method", _method),
    ("snapshot", "timeout"): ("timeout", _positive_float),
    ("snapshot", "poll_interval"): ("poll_interval", _positive_float),
    ("snapshot", "lock"): ("lock_path", _text),
    ("log", "syslog"): ("syslog", _boolean),
    ("apt", "enabled"): ("apt_enabled", _boolean),
    ("apt", "series"): ("apt_series", _series),
    ("apt", "rotation"): ("apt_rotation", _rotation),
    ("apt", "operations"): ("apt_operations", _operations),
    ("apt", "include"): ("apt_include", _words),
    ("apt", "exclude"): ("apt_exclude", _words),
    ("apt", "important"): ("apt_important", _words),
    ("apt", "min_interval"): ("apt_min_interval", _seconds),
    ("apt", "strict"): ("apt_strict", _boolean),
    ("apt", "wait"): ("apt_wait", _positive_float),
    ("schedule", "daily"): ("daily", _count),
    ("schedule", "weekly"): ("weekly", _count),
    ("schedule", "monthly"): ("monthly", _count),
    ("schedule", "yearly"): ("yearly", _count),
    ("schedule", "max_delay"): ("schedule_max_delay", _seconds),
    ("schedule", "wait"): ("schedule_wait", _positive_float),
}
KNOWN_SECTIONS = {section for section, _ in KEYS}


def parse_settings(text, path):
    """Settings from the file's text; raises ConfigError naming path, section and key."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as err:
        errors = getattr(err, "errors", None)      # ParsingError: [(line, text), ...]
        line = errors[0][0] if errors else getattr(err, "lineno", None)
        where = f"{path}:{line}" if line else path
        what = f"not a 'key = value' line: {errors[0][1]}" if errors else err.message.splitlines()[0]
        raise ConfigError(f"{where}: cannot parse the settings: {what}",
                          fix=f"correct {where}") from None
    values, extra = {"path": path}, {}
    for section in parser.sections():
        if section not in KNOWN_SECTIONS:
            extra[section] = dict(parser[section])
            continue
        for key, raw in parser[section].items():
            if (section, key) not in KEYS:
                raise ConfigError(f"{path}: unknown key '{key}' in [{section}]",
                                  fix=f"remove or correct '{key}' in {path}")
            attribute, convert = KEYS[(section, key)]
            try:
                values[attribute] = convert(raw)
            except ValueError as err:
                raise ConfigError(f"{path}: [{section}] {key} = {raw!r}: {err}",
                                  fix=f"correct [{section}] {key} in {path}") from None
    return Settings(extra=extra, **values)


def load_settings(path=None):
    """Read the settings file; a missing default file means defaults, a missing named one is an error."""
    explicit = path is not None
    path = path or os.environ.get("NOVA_SNAPSHOT_HOOK_CONFIG") or DEFAULT_PATH
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such settings file", fix="check the --config path") from None
        return Settings(path=path)
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the settings: {err}", fix=f"check {path}") from None
    return parse_settings(text, path)
