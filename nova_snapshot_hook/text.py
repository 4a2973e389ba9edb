"""What commands print, in one shape each: an API call shown by a dry run (Call), a table, a time,
an age and a size; and `printable`, which every text from the cloud goes through on its way to a
terminal or syslog. Standard library only, nothing slow to import (log.py imports it).
"""

import time

from .api_versions import IMAGE_PATCH, MICROVERSION


class Call:
    """One API request, as data: what a dry run prints is what a real run sends.
    `service` is the catalog's service type: "compute" or "image"."""
    __slots__ = ("method", "service", "path", "body")

    def __init__(self, method, service, path, body):
        self.method, self.service, self.path, self.body = method, service, path, body

    def __eq__(self, other):
        return isinstance(other, Call) and all(getattr(self, name) == getattr(other, name)
                                               for name in self.__slots__)

    def __repr__(self):
        return f"Call({self.method} {self.service}{self.path})"

    def header(self):
        if self.service == "image":
            extra = f"  (Content-Type: {IMAGE_PATCH})" if self.method == "PATCH" else ""
        else:
            extra = f"  (OpenStack-API-Version: compute {MICROVERSION})"
        return f"{self.method} <{self.service}>{self.path}{extra}"

    def as_dict(self):
        record = {"method": self.method, "service": self.service, "path": self.path,
                  "body": self.body}
        if self.service == "compute":
            record["microversion"] = MICROVERSION
        return record


def call_lines(calls):
    """Each call's header line, then its body as indented JSON."""
    import json     # here, not at the top: log.py imports this module for `printable`
    for call in calls:
        yield printable(call.header())
        yield from json.dumps(call.body, indent=2, sort_keys=True).splitlines()


def _escape(code):
    return {0x09: "\\t", 0x0a: "\\n", 0x0d: "\\r"}.get(
        code, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


# What a terminal acts on or a reader is fooled by: C0 (tab and newline too: a cell or a log
# record stays one line), DEL, C1 (0x9b is a CSI on its own), the line and paragraph separators,
# and the bidi embeddings, overrides and isolates (text shown in another order than it is).
_UNSAFE = {code: _escape(code) for code in (*range(0x20), 0x7f, *range(0x80, 0xa0), 0x2028,
                                            0x2029, *range(0x202a, 0x202f), *range(0x2066, 0x206a))}


def printable(text):
    """`text` with each of those characters written as its Python escape (`\\x1b`, `\\u202e`):
    the operator sees that something was there, and which, where a `?` would hide it. Applying
    it twice changes nothing (a backslash is left alone)."""
    return text.translate(_UNSAFE)


def table(rows, headers=None):
    """Left-aligned columns two spaces apart, `headers` first; the last column is not padded (it
    may be long), and no line ends in spaces."""
    # Escaped before measuring, so the columns stay aligned.
    rows = [tuple(printable(cell) for cell in row) for row in ([headers] if headers else [])
            + list(rows)]
    if not rows:
        return []
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]) - 1)]
    return ["  ".join([cell.ljust(width) for cell, width in zip(row, widths)] + [row[-1]]).rstrip()
            for row in rows]


def format_time(epoch, seconds=True):
    """Epoch seconds as `2026-11-26 06:14:56` (UTC); `-` for None."""
    if epoch is None:
        return "-"
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return time.strftime(shape, time.gmtime(epoch))


def human_age(seconds):
    """`45s`, `12m`, `5h 02m`, `3d 04h`: precise enough to judge a backup's age at a glance."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours < 1:
        return f"{minutes}m"
    if days < 1:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24:02d}h"


def human_size(size):
    """Bytes as `5.9 KiB`, `3.0 GiB`; `-` for None."""
    if size is None:
        return "-"
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
