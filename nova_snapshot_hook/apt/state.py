"""The files the apt hook and apt-post-invoke keep between runs: their names, their formats
(format and parse side by side, pure functions), and reading and writing them.

  last-apt-snapshot  the Transaction of the last snapshot taken: `name=value` lines
  pending-outcome    what dpkg should leave behind: `image ID`, then `name:arch version` lines
                     (version `-` for a removal); apt-post-invoke reads it and removes it
  later-changes      changes made under an earlier backup: `image ID`, then `changes CHUNK`
                     lines; apt-post-invoke adds them to that image and removes the file

Every value is written on one line: a control character becomes `?`. A parse function reads
anything, and what is not its format reads as no file at all. Also the prefix of the hook's
lines in apt's output. The files are in paths.run_dir(), /run/nova-snapshot-hook. On the
hook's fast path: imports only the stream's Record and paths.py; files.py only where a file is
written.
"""

import os

from .. import paths
from .stream import Record

LAST_SNAPSHOT = "last-apt-snapshot"
PENDING_OUTCOME = "pending-outcome"
LATER_CHANGES = "later-changes"
PROGRAM = "nova-snapshot-hook: "               # the hook's lines: "LEVEL: nova-snapshot-hook: ..."
MAX_CHANGE_PROPERTIES = 40                     # Glance's default quota is 128 properties


# --- last-apt-snapshot ---

class Transaction(Record):
    """One hook run, as remembered for the last snapshot: the action list's fingerprint
    (ActionLines.fingerprint()), the frontend's pid, the time (epoch seconds), the frontend's
    program name (policy.frontend_name()), and the image taken, once known."""

    __slots__ = ()
    _fields = ("fingerprint", "frontend_pid", "time", "frontend", "image_id")
    _defaults = {"frontend": "", "image_id": None}


def format_last_snapshot(transaction):
    return "".join(f"{name}={_one_line(value)}\n" for name, value in (
        ("fingerprint", transaction.fingerprint), ("frontend_pid", transaction.frontend_pid),
        ("time", repr(float(transaction.time))), ("frontend", transaction.frontend),
        ("image_id", transaction.image_id)))


def parse_last_snapshot(text):
    """The Transaction format_last_snapshot wrote, or None for anything else (then there was
    no previous snapshot)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        # split("\n"), not splitlines(): a frontend name may hold U+2028 and friends.
        fields = dict(line.partition("=")[::2] for line in text.split("\n") if "=" in line)
        pid = fields.get("frontend_pid") or None
        return Transaction(fingerprint=fields["fingerprint"],
                           frontend_pid=None if pid is None else int(pid),
                           time=float(fields["time"]),
                           frontend=fields.get("frontend", ""),
                           image_id=fields.get("image_id") or None)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


# --- pending-outcome ---

def format_pending_outcome(image_id, expected):
    """``expected``: {"name:arch": version, or "-" for a removal}, as
    ChangeSet.expected_versions() gives it."""
    lines = [f"image {_one_line(image_id)}"]
    lines += [f"{_one_word(package)} {_one_word(version)}" for package, version in expected.items()]
    return "\n".join(lines) + "\n"


def parse_pending_outcome(text):
    """(image id or None, {"name:arch": version or "-"}) from format_pending_outcome's text."""
    image_id, expected = None, {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "image":
            image_id = value.strip() or None
        elif key:
            expected[key] = value.strip()
    return image_id, expected


# --- later-changes ---

def format_later_changes(image_id, chunks, earlier=None):
    """The file with ``chunks`` (ChangeSet.listing_chunks()) added for image ``image_id``: after
    the ``earlier`` file's own when that is about the same image, else begun anew."""
    head = f"image {_one_line(image_id)}\n"
    kept = earlier if earlier and earlier.startswith(head) else head
    return kept + "".join(f"changes {_one_line(chunk)}\n" for chunk in chunks)


def parse_later_changes(text):
    """(image id, [listing chunk, ...]) from format_later_changes's text; (None, []) for
    anything else."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("image "):
        return None, []
    return lines[0][len("image "):].strip(), [line[len("changes "):] for line in lines[1:]
                                               if line.startswith("changes ")]


# --- reading and writing ---

def read(name):
    """The text of one state file; None when there is none."""
    try:
        with open(os.path.join(paths.run_dir(), name), "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return None


def write(name, text):
    """Replace one state file whole (mode 0600): a reader sees the old text or the new."""
    from ..files import atomic_write   # only a run that writes state pays for the import
    directory = paths.run_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    atomic_write(os.path.join(directory, name), text, mode=0o600)


def take(name):
    """Read and remove one state file; None when there is none."""
    path = os.path.join(paths.run_dir(), name)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        os.unlink(path)
    except OSError:
        return None
    return data.decode("utf-8", "replace")


def _one_line(value):
    text = "" if value is None else str(value)
    return "".join(ch if ch >= " " else "?" for ch in text)


def _one_word(value):
    return _one_line(value).replace(" ", "?")
