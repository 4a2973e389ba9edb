"""The command context: what every command needs, built once by the dispatcher and made on first
use, so a command that fails on its arguments never reads a file, and one that only prints a dry
run never authenticates.

    ctx.settings      the settings file, with logging set up for this command
    ctx.credentials   the credentials (their secrets registered with the redactor)
    ctx.server        (server id, where it came from): --server, the settings, then detection
    ctx.cloud         one authenticated Cloud (cloud/session.py), its token kept for the next run
    ctx.bounded(s)    the run's deadline, enforced by the watchdog; ctx.deadline while it runs

The apt hook's fast path decides before any of this exists; its snapshot path builds a Context
from the settings it has already read (Context.for_settings).
"""

import contextlib
import time

from .log import redactor, setup as setup_logging


class Context:
    def __init__(self, config=None, credentials=None, use_environment=False, server=None,
                 verbosity=0, quiet=False, json_output=False, syslog=False, prefix="",
                 settings=None):
        self.config_path, self.credentials_path = config, credentials
        self.use_environment, self.server_override = use_environment, server
        self.verbosity, self.quiet, self.json_output = verbosity, quiet, json_output
        self.syslog, self.prefix = syslog, prefix
        self.pool_size = None           # connections per host; fleet raises it to its concurrency
        self.token_life = None          # None: the run's remaining time decides
        self.deadline = None            # time.monotonic() of the deadline, inside bounded()
        self._settings, self._credentials, self._server, self._cloud = settings, None, None, None
        if settings is not None:
            self._log_to(settings)

    @classmethod
    def from_args(cls, args):
        """The global options and those a command may have (--server, --json); `syslog` is
        the command's own word: a bool, or a function of the arguments."""
        syslog = getattr(args, "syslog", False)
        return cls(config=args.config, credentials=args.credentials,
                   use_environment=args.use_environment, server=getattr(args, "server", None),
                   verbosity=args.verbose, quiet=args.quiet,
                   json_output=getattr(args, "json", False),
                   syslog=syslog(args) if callable(syslog) else bool(syslog))

    @classmethod
    def for_settings(cls, settings, prefix=""):
        """For the apt hook and apt-post-invoke: settings already read, output within apt's."""
        return cls(settings=settings, syslog=True, prefix=prefix)

    # -- made on first use ---------------------------------------------------------------------
    @property
    def settings(self):
        if self._settings is None:
            from .config import load_settings
            self._settings = load_settings(self.config_path)
            self._log_to(self._settings)
        return self._settings

    def _log_to(self, settings):
        setup_logging(self.verbosity, self.quiet, settings.syslog and self.syslog,
                      self.json_output, prefix=self.prefix)

    @property
    def credentials(self):
        if self._credentials is None:
            from .cloud.credentials import load_credentials
            self._credentials = load_credentials(self.credentials_path or self.settings.credentials,
                                                 use_environment=self.use_environment)
            redactor.add(*self._credentials.secrets())
        return self._credentials

    @property
    def server(self):
        """(server id, source), confirmed later by the first call that names it."""
        if self._server is None:
            self._server = self.resolve_server()
        return self._server

    @property
    def server_id(self):
        return self.server[0]

    def resolve_server(self, offline=False):
        """The server id; `offline` asks no metadata service (a dry run sends nothing)."""
        from .cloud.identity import resolve_server_id
        settings = self.settings
        return resolve_server_id(self.server_override or settings.server_id, settings.identity_root,
                                 "" if offline else settings.metadata_url,
                                 settings.metadata_timeout, settings_path=settings.path)

    @property
    def cloud(self):
        if self._cloud is None:
            from .cloud.session import open_cloud
            from .cloud.retry import POOL_SIZE
            self._cloud = open_cloud(self.credentials, self.settings,
                                     pool_size=self.pool_size or POOL_SIZE,
                                     min_life=self._token_life())
        return self._cloud

    def fresh_cloud(self):
        """A Cloud that proves the credentials themselves: no cached token (for `check`)."""
        from .cloud.session import open_cloud
        self._cloud = open_cloud(self.credentials, self.settings, min_life=None)
        return self._cloud

    def _token_life(self):
        if self.token_life is not None:
            return self.token_life
        if self.deadline is not None:
            return max(0.0, self.deadline - time.monotonic())
        return self.settings.timeout

    # -- the deadline --------------------------------------------------------------------------
    @contextlib.contextmanager
    def bounded(self, seconds, last_words=None):
        """Run the block within `seconds`: ctx.deadline for the code's own waits, the watchdog
        for whatever ignores it (name resolution, a stuck peer, a library's broad except)."""
        from .deadline import watchdog
        self.deadline = time.monotonic() + seconds
        with watchdog(seconds, last_words=last_words):
            yield self.deadline

    def close(self):
        """Keep the token for the next run; the dispatcher calls it whatever happened."""
        if self._cloud is not None:
            from .cloud.session import close_cloud
            close_cloud(self._cloud)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def say(text):
    """Print a command's output, with every known secret masked and every control character
    from the cloud escaped on the way out; line by line, so JSON and YAML keep their lines."""
    from .text import printable
    for line in text.split("\n"):
        print(printable(redactor.mask(line)), flush=True)
