"""The tool's state directories in tests: a test's own NOVA_SNAPSHOT_HOOK_ROOT (StateRoot), and
the listing of the host's own that tests/conftest.py compares at the start and the end of a run:
tests write only under their temporary directories."""

import os
import stat
from pathlib import Path

from nova_snapshot_hook import paths

HOST_DIRECTORIES = (paths.RUN_DIR, paths.LIB_DIR)


class StateRoot:
    """A directory standing for / for the tool's state: `run` and `lib` are its
    /run/nova-snapshot-hook and /var/lib/nova-snapshot-hook, `env` sets it for a process."""

    def __init__(self, root):
        self.root = Path(root)
        self.run = Path(paths.under(str(root), paths.RUN_DIR))
        self.lib = Path(paths.under(str(root), paths.LIB_DIR))
        self.attempts = Path(paths.under(str(root), paths.ATTEMPTS))
        self.schedule = Path(paths.under(str(root), paths.SCHEDULE_STATE))
        self.env = {paths.ROOT_ENVIRONMENT: str(root)}


def listing(directories=HOST_DIRECTORIES):
    """{directory: None if it does not exist, else {path inside: (type and mode, size, mtime in
    ns)}}; the directory itself is ".". Symbolic links are listed, not followed."""
    found = {}
    for directory in directories:
        if not os.path.lexists(directory):
            found[directory] = None
            continue
        entries = {}
        for top, dirs, files in os.walk(directory):
            for name in (".", *dirs, *files) if top == directory else (*dirs, *files):
                path = os.path.normpath(os.path.join(top, name))
                try:
                    info = os.lstat(path)
                except FileNotFoundError:       # gone since the walk read its directory
                    continue
                size = info.st_size if stat.S_ISREG(info.st_mode) else None
                entries[os.path.relpath(path, directory)] = (info.st_mode, size, info.st_mtime_ns)
        found[directory] = entries
    return found


def changes(before, after):
    """What differs between two listings, one line per path; [] when nothing does."""
    lines = []
    for directory in sorted(set(before) | set(after)):
        old, new = before.get(directory), after.get(directory)
        if old is None and new is None:
            continue
        if old is None:
            lines.append(f"{directory}: created")
            continue
        if new is None:
            lines.append(f"{directory}: removed")
            continue
        for name in sorted(set(old) | set(new)):
            path = directory if name == "." else os.path.join(directory, name)
            if name not in old:
                lines.append(f"{path}: created")
            elif name not in new:
                lines.append(f"{path}: removed")
            elif old[name] != new[name]:
                what = [f"{label} {shown(a)} -> {shown(b)}" for label, shown, a, b in zip(
                    ("mode", "size", "mtime"), (oct, str, str), old[name], new[name]) if a != b]
                lines.append(f"{path}: changed ({', '.join(what)})")
    return lines
