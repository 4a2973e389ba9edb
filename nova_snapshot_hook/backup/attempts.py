"""The outcome of each series' last backup attempt, for `status`: did backups stop working?

backup.take_backup records every attempt (the snapshot command, the apt hook, the schedule) in
paths.attempts(), /var/lib/nova-snapshot-hook/attempts, root-only. One JSON object, one entry per
series:

    {"version": 1, "series": {"daily": {"time": 1795000000.0, "outcome": "failed",
     "trigger": "schedule", "server": "<uuid>", "image": null, "error": "...",
     "last_success": 1794913600.0}}}

Recording must never disturb a backup: record_attempt() raises nothing the caller has to handle
beyond OSError, and take.py swallows even that. Reading tolerates a missing or damaged file.
"""

import json
import os
import time

from .. import paths
from ..files import FileLock, atomic_write
from ..rules.outcome import FAILED, SUCCEEDED

LOCK_WAIT = 2.0          # seconds; a status run or another backup holds the lock for milliseconds
MAX_ERROR = 300


def parse(text):
    """{series: entry} from the file's text; {} for anything unusable."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    series = data.get("series") if isinstance(data, dict) else None
    if not isinstance(series, dict):
        return {}
    return {name: entry for name, entry in series.items()
            if isinstance(name, str) and isinstance(entry, dict)
            and isinstance(entry.get("time"), (int, float))
            and entry.get("outcome") in (SUCCEEDED, FAILED)}


def render(entries):
    return json.dumps({"version": 1, "series": entries}, indent=1, sort_keys=True) + "\n"


def updated(entries, series, trigger, server_id, now, image_id=None, error=None):
    """The entries with this attempt recorded (pure; `entries` is not changed)."""
    previous = entries.get(series, {})
    last_success = now if error is None else previous.get("last_success")
    entry = {"time": now, "outcome": FAILED if error is not None else SUCCEEDED,
             "trigger": trigger, "server": server_id, "image": image_id,
             "error": str(error)[:MAX_ERROR] if error is not None else None,
             "last_success": last_success}
    return {**entries, series: entry}


def read(path=None):
    try:
        with open(path or paths.attempts(), encoding="utf-8") as handle:
            return parse(handle.read())
    except (OSError, UnicodeDecodeError):
        return {}


def record_attempt(series, trigger, server_id, image_id=None, error=None, path=None, now=None):
    """Record one attempt: read, update and atomically replace the file under a short lock."""
    path = path or paths.attempts()
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    with FileLock(path + ".lock").acquire(time.monotonic() + LOCK_WAIT):
        entries = updated(read(path), series, trigger, server_id,
                          time.time() if now is None else now, image_id, error)
        atomic_write(path, render(entries), mode=0o600, sync=True)


def outcome_of(error):
    """What take_backup records for an exception: None means "not an attempt, record nothing"
    (no credentials configured yet: nothing is supposed to happen)."""
    from ..cloud.credentials import CredentialsNotConfigured
    if isinstance(error, CredentialsNotConfigured):
        return None
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    from ..log import redactor
    return redactor.mask(str(error) or type(error).__name__)
