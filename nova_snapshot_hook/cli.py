"""The command line: parse arguments, run one command, turn every failure into one line."""

import argparse
import importlib
import json
import os
import sys

from . import __version__
from .rules import naming
from .errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, ConfigError, HookError
from .log import log, redactor, setup as setup_logging

DEFAULT_SERIES, DEFAULT_ROTATION = "manual", 7
# Modules that add a command: each has add_parser(commands), which sets `run` on its parser.
COMMAND_MODULES = ("commands.scheduled", "commands.list", "commands.show", "commands.restore",
                   "commands.prune", "commands.status", "commands.check", "commands.fleet")


class Parser(argparse.ArgumentParser):
    def error(self, message):
        """One line, not argparse's usage block: what is wrong and where to look."""
        self.exit(EXIT_USAGE, f"ERROR: {message} (see '{self.prog} --help')\n")


def build_parser():
    parser = Parser(prog="nova-snapshot-hook",
                    description="Nova backup images of this VM: by hand, before apt changes "
                                "packages, and on schedule.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-c", "--config", metavar="FILE",
                        help="settings file (default /etc/nova-snapshot-hook/nova-snapshot-hook.conf)")
    parser.add_argument("--credentials", metavar="FILE",
                        help="credentials file (default /etc/nova-snapshot-hook/credentials)")
    parser.add_argument("--use-environment", action="store_true",
                        help="take the credentials from OS_* variables even when the file has some")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more detail; twice shows the HTTP requests (secrets masked)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only warnings and errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    snap = commands.add_parser("snapshot", help="take a backup image of this server now",
                               description="Take a Nova backup image of this server now. Nova "
                               "rotates the series (BACKUP_TYPE): the oldest backup goes only "
                               "after the new one succeeded.")
    add_backup_options(snap, SNAPSHOT_HELP, lambda cmd: (
        cmd.add_argument("--name", help="image name (default HOST-SERIES-UTCTIME)"),
        cmd.add_argument("--server", metavar="ID",
                         help="this server's id (default: settings, then detect)")))
    snap.add_argument("--dry-run", action="store_true", help="print the request, send nothing")
    snap.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    snap.set_defaults(run=run_snapshot)
    for name in COMMAND_MODULES:
        importlib.import_module(f".{name}", __package__).add_parser(commands)
    return parser


SNAPSHOT_HELP = {
    "series": f"the series, Nova's backup_type (default {DEFAULT_SERIES})",
    "rotation": f"how many backups of the series to keep, at least 1 (default {DEFAULT_ROTATION})",
    "timeout": "give up after this long, waits included (default: settings, 600)",
    "wait": "return once the disk is captured (default), the image is active, or right after "
            "the request",
    "method": "createBackup, createImage with our own rotation, or auto: createBackup and "
              "createImage for volume-backed servers (default: settings, auto)",
}


def add_backup_options(cmd, texts, add_own):
    """The options `snapshot` and `fleet snapshot` share, worded by `texts`; `add_own(cmd)` adds
    the command's own options where --help lists them, before the waits."""
    cmd.add_argument("series", nargs="?", default=DEFAULT_SERIES, metavar="BACKUP_TYPE",
                     help=texts["series"])
    cmd.add_argument("rotation", nargs="?", type=int, default=DEFAULT_ROTATION, metavar="ROTATION",
                     help=texts["rotation"])
    add_own(cmd)
    cmd.add_argument("--timeout", type=float, metavar="SECONDS", help=texts["timeout"])
    cmd.add_argument("--wait", choices=("captured", "active", "none"), default="captured",
                     help=texts["wait"])
    cmd.add_argument("--no-wait", dest="wait", action="store_const", const="none",
                     help="same as --wait none")
    cmd.add_argument("--method", choices=("auto", "backup", "image"), help=texts["method"])


def checked_backup_options(args, settings):
    """Refuse bad values of the options add_backup_options added; returns the timeout."""
    problem = naming.check_series(args.series)
    if problem:
        raise ConfigError(f"bad BACKUP_TYPE '{args.series}': {problem}")
    if args.rotation < 1:
        raise ConfigError(f"ROTATION {args.rotation} is refused: Nova's rotation 0 deletes the new "
                          "backup too", fix="give a ROTATION of 1 or more")
    timeout = args.timeout or settings.timeout
    if timeout <= 0:
        raise ConfigError("--timeout must be greater than 0")
    return timeout


def main(argv):
    args = build_parser().parse_args(argv)
    # Until the settings are read: console only, so even a bad settings file gets its one line.
    setup_logging(args.verbose, args.quiet, use_syslog=False, json_output=getattr(args, "json", False))
    try:
        return args.run(args)
    except HookError as err:
        log.error(redactor.mask(str(err)))
        return err.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return EXIT_FAILURE
    except Exception as err:    # a bug of ours: still one line, the details only with -v
        log.debug("internal error", exc_info=True)
        log.error(redactor.mask(f"internal error: {type(err).__name__}: {err} "
                                "(please report it; -v shows the details)"))
        return EXIT_FAILURE


def run_snapshot(args):
    from .config import load_settings
    settings = load_settings(args.config)
    setup_logging(args.verbose, args.quiet, settings.syslog, args.json)
    timeout = checked_backup_options(args, settings)
    method = args.method or settings.method

    from .backup.take import take_backup, watchdog
    from .backup.snapshotter import SnapshotRequest, action_body, report
    request = SnapshotRequest(series=args.series, rotation=args.rotation, name=args.name or "",
                              wait=args.wait, method=method, poll_interval=settings.poll_interval)
    hostname = os.uname().nodename
    if args.dry_run:
        return dry_run(args, settings, request, hostname, action_body)

    with watchdog(timeout):
        result = take_backup(settings, request, timeout, args.credentials, args.use_environment,
                             args.server)
    if args.json:
        print(json.dumps(result.as_dict(), sort_keys=True))
    else:
        report(result)
    return EXIT_OK


def dry_run(args, settings, request, hostname, action_body):
    """Print what would be sent. Nothing leaves the machine: not even the metadata service."""
    try:
        from .backup.take import resolve_server
        server_id, _ = resolve_server(settings, args.server, metadata_url="")
    except HookError as err:
        log.warning(f"{err}; showing the request with a placeholder")
        server_id = "<server-id>"
    name = request.name or naming.image_name(hostname, request.series)
    method = "image" if request.method == "image" else "backup"
    metadata = naming.clean_properties(naming.own_properties(
        server_id, request.series, hostname, request.trigger,
        "createImage" if method == "image" else "createBackup", name))
    action, body = action_body(method, name, request.series, request.rotation, metadata)
    call = {"method": "POST", "path": f"/servers/{server_id}/action",
            "microversion": "2.45", "body": {action: body}}
    if args.json:
        print(json.dumps(call, sort_keys=True))
    else:
        print(f"POST <compute>/servers/{server_id}/action  (OpenStack-API-Version: compute 2.45)")
        print(json.dumps({action: body}, indent=2, sort_keys=True))
    return EXIT_OK
