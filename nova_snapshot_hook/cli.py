"""The command line: parse the arguments, build the command context once, run one command, and
turn every failure into one line."""

import argparse

from . import __version__
from .commands import (access_rules, check, fleet, list as list_images, pin, prune, restore,
                       scheduled, show, snapshot, status)
from .commands.options import add_global
from .context import Context
from .errors import EXIT_FAILURE, EXIT_UNKNOWN, EXIT_USAGE, AccessRuleRefused, HookError
from .log import log, redactor, setup as setup_logging

# Commands beyond what the VM's own restricted credential is for.
OPERATOR_COMMANDS = ("restore", "fleet", "prune")
# In the order `--help` lists them.
VERBS = (snapshot, scheduled, list_images, show, restore, pin, prune, status, check, access_rules,
         fleet)


class Parser(argparse.ArgumentParser):
    usage_exit = EXIT_USAGE         # EXIT_UNKNOWN for `status` and `fleet status` (monitoring)

    def error(self, message):
        """One line, not argparse's usage block: what is wrong and where to look."""
        self.exit(self.usage_exit, f"ERROR: {message} (see '{self.prog} --help')\n")

    def parse_known_args(self, args=None, namespace=None):
        """A command's unknown words: refused here, with the command's status; argparse would
        hand them up to the top parser, whose status is EXIT_USAGE."""
        parsed, extra = super().parse_known_args(args, namespace)
        if extra and self.usage_exit != EXIT_USAGE:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return parsed, extra


def build_parser():
    parser = Parser(prog="nova-snapshot-hook",
                    description="Nova backup images of this VM: by hand, before apt changes "
                                "packages, and on schedule.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_global(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for verb in VERBS:
        verb.add_parser(commands)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    # Until the settings are read: console only, so even a bad settings file gets its one line.
    setup_logging(args.verbose, args.quiet, use_syslog=False, json_output=getattr(args, "json", False))
    try:
        with Context.from_args(args) as ctx:
            return args.run(ctx, args)
    except HookError as err:
        if isinstance(err, AccessRuleRefused) and args.command in OPERATOR_COMMANDS:
            err.for_operator(args.command)
        log.error(redactor.mask(str(err)))
        return failure_status(args, err.exit_code)
    except KeyboardInterrupt:
        log.error("interrupted")
        return failure_status(args, EXIT_FAILURE)
    except Exception as err:    # a bug of ours: still one line, the details only with -v
        log.debug("internal error", exc_info=True)
        log.error(redactor.mask(f"internal error: {type(err).__name__}: {err} "
                                "(please report it; -v shows the details)"))
        return failure_status(args, EXIT_FAILURE)


def failure_status(args, code):
    """Whatever keeps a monitoring command (options.monitoring) from judging the backups is
    UNKNOWN: a 1 or 2 would tell Nagios a WARNING or CRITICAL about them."""
    return EXIT_UNKNOWN if getattr(args, "monitoring", False) else code
