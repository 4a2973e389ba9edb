"""Entry point of /usr/sbin/nova-snapshot-hook: dispatch before importing anything heavy.

The apt hook's no-snapshot path must cost about one interpreter start-up, so argparse, logging and
the cloud libraries are imported only by the commands that need them.
"""

import sys


def main(argv=None):
    program = argv is None          # run as /usr/sbin/nova-snapshot-hook, not called by a test
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["apt-hook"]:
        from .apt.hook import main as hook_main
        return _done(hook_main(argv[1:]), program)
    if argv[:1] == ["apt-post-invoke"]:
        from .apt.post_invoke import main as outcome_main
        return _done(outcome_main(argv[1:]), program)
    from .cli import main as cli_main
    return cli_main(argv)


def _done(status, program):
    """apt waits until the hook process has ended. Once the cloud libraries are loaded, tearing
    the interpreter down takes 0.1-0.4 s (bench/apt_hold.py): end at once instead, with every
    output flushed. Nothing is left to do by then: the state files are written and renamed."""
    if program and "keystoneauth1" in sys.modules:
        import os
        try:
            if "logging" in sys.modules:
                sys.modules["logging"].shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(0 if status is None else status if isinstance(status, int) else 1)
    return status
