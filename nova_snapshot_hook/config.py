"""The settings file: /etc/nova-snapshot-hook/nova-snapshot-hook.conf (INI).

Every key has a default, so a missing file means defaults. A bad value is reported with the file,
the section and the key, never a traceback. Credentials live in their own conffile (credentials.py).
"""

import configparser
import os

from .errors import ConfigError

DEFAULT_PATH = "/etc/nova-snapshot-hook/nova-snapshot-hook.conf"
DEFAULT_CREDENTIALS = "/etc/nova-snapshot-hook/credentials"
DEFAULT_METADATA_URL = "http://169.254.169.254/openstack/latest/meta_data.json"
METHODS = ("auto", "backup", "image")


DEFAULTS = {
    "path": DEFAULT_PATH,
    # [cloud]
    "credentials": DEFAULT_CREDENTIALS,
    "https_proxy": "",
    "no_proxy": "",
    "api_timeout": 30.0,  # one HTTP request; the whole run has its own deadline
    # [server]
    "server_id": "",  # empty: detect
    "identity_root": "/",
    "metadata_url": DEFAULT_METADATA_URL,
    "metadata_timeout": 2.0,
    # [snapshot]
    "method": "auto",
    "timeout": 600.0,  # the whole snapshot command, waits included
    "poll_interval": 1.0,
    "lock_path": "/run/lock/nova-snapshot-hook.lock",
    "syslog": True,
    # [apt]: the apt hook (policy.HookPolicy takes the decision-making ones)
    "apt_enabled": True,
    "apt_series": "apt",
    "apt_rotation": 5,
    "apt_operations": ("install", "upgrade", "downgrade", "remove"),
    "apt_include": (),
    "apt_exclude": (),
    "apt_important": None,  # None: policy.DEFAULT_IMPORTANT
    "apt_min_interval": 600.0,
    "apt_strict": False,
    "apt_wait": 300.0,  # the longest apt waits for the capture (the lock is held)
    # [schedule]: how many backups each tier keeps; 0 switches the tier off
    "daily": 7,
    "weekly": 4,
    "monthly": 12,
    "yearly": 2,
    "schedule_max_delay": 3600.0,  # per-host deterministic spread of the scheduled run
    "schedule_wait": 1800.0,
}


class Settings:
    """The settings, every key with its default. A plain class, not a dataclass: the apt hook
    reads the settings on every run and `dataclasses` alone costs half an interpreter start-up."""

    __slots__ = tuple(DEFAULTS) + ("extra",)

    def __init__(self, extra=None, **values):
        unknown = set(values) - set(DEFAULTS)
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}")
        for name, default in DEFAULTS.items():
            object.__setattr__(self, name, values.get(name, default))
        object.__setattr__(self, "extra", extra or {})   # unknown sections, for later readers

    def __setattr__(self, name, value):
        raise AttributeError("Settings are read-only")

    def __eq__(self, other):
        return isinstance(other, Settings) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self):
        return f"Settings(path={self.path!r})"


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
    from .rules.naming import check_series
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
