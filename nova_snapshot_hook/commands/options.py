"""The options more than one command shares, worded once."""

import argparse
import math

from .. import paths
from ..errors import EXIT_UNKNOWN, ConfigError
from ..rules import naming

DEFAULT_SERIES, DEFAULT_ROTATION = "manual", 7
SERVER_HELP = "this server's id (default: settings, then detect)"


def add_global(parser):
    parser.add_argument("-c", "--config", metavar="FILE",
                        help=f"settings file (default {paths.SETTINGS})")
    parser.add_argument("--credentials", metavar="FILE",
                        help=f"credentials file (default {paths.CREDENTIALS})")
    parser.add_argument("--use-environment", action="store_true",
                        help="take the credentials from OS_* variables even when the file has some")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more detail; twice shows the HTTP requests (secrets masked)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")


def add_server(cmd):
    cmd.add_argument("--server", metavar="ID", help=SERVER_HELP)


def monitoring(cmd):
    """`status` and `fleet status` follow the monitoring-plugin convention (0 OK, 1 WARNING,
    2 CRITICAL, 3 UNKNOWN): a bad argument, setting or credential, an unreachable cloud or a bug
    of ours is UNKNOWN (cli.failure_status), never a verdict on the backups."""
    cmd.usage_exit = EXIT_UNKNOWN
    cmd.set_defaults(monitoring=True)


def add_backup_options(cmd, texts, add_own):
    """The options `snapshot` and `fleet snapshot` share, worded by `texts`; `add_own(cmd)` adds
    the command's own options where --help lists them, before the waits."""
    cmd.add_argument("series", nargs="?", default=DEFAULT_SERIES, metavar="BACKUP_TYPE",
                     help=texts["series"])
    cmd.add_argument("rotation", nargs="?", type=whole, default=DEFAULT_ROTATION, metavar="ROTATION",
                     help=texts["rotation"])
    add_own(cmd)
    cmd.add_argument("--timeout", type=number, metavar="SECONDS", help=texts["timeout"])
    cmd.add_argument("--wait", choices=("captured", "active", "none"), default="captured",
                     help=texts["wait"])
    cmd.add_argument("--no-wait", dest="wait", action="store_const", const="none",
                     help="same as --wait none")
    cmd.add_argument("--method", choices=("auto", "backup", "image"), help=texts["method"])


METHOD_HELP = ("createBackup, createImage with our own rotation, or auto: createBackup and "
               "createImage for volume-backed servers (default: settings, auto)")


def checked_backup_options(args, settings):
    """Refuse bad values of the options add_backup_options added; returns the timeout."""
    check_series(args.series, "BACKUP_TYPE")
    name = getattr(args, "name", None)
    problem = name is not None and naming.check_name(name)
    if problem:
        raise ConfigError(f"bad --name {name[:80]!r}: {problem}",
                          fix=f"give --name a printable name of 1 to {naming.MAX_NAME} characters")
    if args.rotation < 1:
        raise ConfigError(f"ROTATION {args.rotation} is refused: Nova's rotation 0 deletes the new "
                          "backup too", fix="give a ROTATION of 1 or more")
    return checked_timeout(args.timeout, settings)


def checked_timeout(timeout, settings):
    timeout = timeout or settings.timeout
    if timeout <= 0:
        raise ConfigError("--timeout must be greater than 0")
    return timeout


def check_series(series, option="--series"):
    problem = naming.check_series(series)
    if problem:
        raise ConfigError(f"bad {option} '{series}': {problem}")


def whole(text):
    """argparse type: an int, refused in our words (argparse says "invalid int value")."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number: {_shown(text)}") from None


def number(text):
    """argparse type: a finite float; float() also takes "nan" and "inf", which no bound
    refuses (nan <= 0 is false)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number: {_shown(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number: {_shown(text)}")
    return value


def _shown(text):
    return repr(text if len(text) <= 40 else text[:40] + "...")


def whole_number(text):
    """argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more: {text!r}")
    return value
