"""Entry point of /usr/sbin/nova-snapshot-hook: dispatch before importing anything heavy.

The apt hook's no-snapshot path must cost about one interpreter start-up, so argparse, logging and
the cloud libraries are imported only by the commands that need them.
"""

import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["apt-hook"]:
        from .hook import main as hook_main
        return hook_main(argv[1:])
    if argv[:1] == ["apt-post-invoke"]:
        from .outcome import main as outcome_main
        return outcome_main(argv[1:])
    from .cli import main as cli_main
    return cli_main(argv)
