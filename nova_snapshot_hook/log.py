"""Output for people and for syslog, with every known secret masked on the way out, and every
control character escaped (text.printable): log lines carry the cloud's names and messages.

Console lines keep the original article's style (`INFO: ...`, `SUCCESS: ...`, `ERROR: ...`).
The same records go to syslog (the journal reads /dev/log) under the program's name.
"""

import logging
import logging.handlers
import os
import sys

from .text import printable

NAME = "nova-snapshot-hook"
SUCCESS = 25
logging.addLevelName(SUCCESS, "SUCCESS")
MASK = "***"
TRACE_INDENT = "  "


class Redactor(logging.Filter):
    """Replaces every registered secret (passwords, credential secrets, tokens) in a record."""

    def __init__(self):
        super().__init__()
        self.secrets = set()

    def add(self, *values):
        self.secrets.update(value for value in values if value and len(value) >= 4)

    def mask(self, text):
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def filter(self, record):
        if self.secrets:
            record.msg, record.args = self.mask(record.getMessage()), None
            if record.exc_info:
                record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


redactor = Redactor()
log = logging.getLogger(NAME)


class _MaxLevel(logging.Filter):
    def __init__(self, below):
        super().__init__()
        self.below = below

    def filter(self, record):
        return record.levelno < self.below


class PrintableFormatter(logging.Formatter):
    """The last step before a console or syslog: the record's message escaped whole (one record,
    one line: a newline from the cloud cannot forge a record of its own); a traceback (-v) keeps
    its lines, each escaped and indented, so an exception's text cannot forge one either."""

    def formatMessage(self, record):
        return printable(super().formatMessage(record))

    def formatException(self, exc_info):
        return _each_line(super().formatException(exc_info))

    def formatStack(self, stack_info):
        return _each_line(super().formatStack(stack_info))

    def format(self, record):
        # The record goes to every handler: what logging caches on it (exc_text) stays as it was.
        kept = record.exc_text
        if kept:                    # the Redactor's masked traceback, already text
            record.exc_text = _each_line(kept)
        try:
            return super().format(record)
        finally:
            record.exc_text = kept


def _each_line(text):
    return "\n".join(TRACE_INDENT + printable(line) for line in text.split("\n"))


def setup(verbosity=0, quiet=False, use_syslog=True, json_output=False, prefix=""):
    """Configure the console and syslog handlers once per process.

    `prefix` names the program on the console where other output surrounds ours (apt's run)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    level = logging.WARNING if quiet else (logging.DEBUG if verbosity else logging.INFO)
    log.setLevel(min(level, logging.INFO))
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
    console = PrintableFormatter(f"%(levelname)s: {prefix}%(message)s")

    # Machine output owns stdout under --json; people's lines then go to stderr.
    if not json_output:
        out = logging.StreamHandler(sys.stdout)
        out.setLevel(level)
        out.addFilter(_MaxLevel(logging.WARNING))
        out.addFilter(redactor)
        out.setFormatter(console)
        log.addHandler(out)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING if not json_output else level)
    err.addFilter(redactor)
    err.setFormatter(console)
    log.addHandler(err)

    if use_syslog and os.path.exists("/dev/log"):
        try:
            syslog = logging.handlers.SysLogHandler(address="/dev/log")
        except OSError:
            syslog = None
        if syslog:
            syslog.ident = f"{NAME}[{os.getpid()}]: "
            syslog.setLevel(logging.INFO)
            syslog.addFilter(redactor)
            syslog.setFormatter(console)
            log.addHandler(syslog)

    # -vv shows the libraries' HTTP conversation (keystoneauth hashes tokens; we mask the rest).
    for name in ("keystoneauth", "novaclient"):
        library = logging.getLogger(name)
        for handler in list(library.handlers):
            library.removeHandler(handler)
        if verbosity >= 2:
            library.setLevel(logging.DEBUG)
            library.propagate = False
            for handler in log.handlers:
                library.addHandler(handler)
    return log
