"""The test controls of minicloud's fake drivers (minicloud_fake.py for Nova, minicloud_volume.py
for Cinder): files under $MINICLOUD_CONTROL_DIR (default $MINICLOUD_STATE/control), read at every
call so that tests change a driver's behaviour without restarting its service.

Imported by the drivers as a sibling module (`from . import minicloud_controls`): both are loaded
as part of their service's package, whose __path__ the service wrappers extend with this directory.
"""

import logging
import os

LOG = logging.getLogger(__name__)


def state_dir():
    return os.environ.get("MINICLOUD_STATE", "/nonexistent")


def control_dir():
    return os.environ.get("MINICLOUD_CONTROL_DIR") or os.path.join(state_dir(), "control")


def _names(name, key):
    """The control files that act on `key` (a server or volume id), most particular first:
    `name@key` for that one only, then `name` for any. Keyed controls let tests on different
    servers run side by side."""
    return [f"{name}@{key}", name] if key else [name]


def read_seconds(name, key=None):
    """A float of seconds from control file `name@key` or `name`; 0 when absent or not a
    number."""
    for candidate in _names(name, key):
        path = os.path.join(control_dir(), candidate)
        try:
            with open(path) as f:
                text = f.read().strip()
            break
        except FileNotFoundError:
            continue
    else:
        return 0.0
    try:
        return max(float(text or 0), 0.0)
    except ValueError:
        LOG.warning("minicloud: ignoring %s: not a number: %r", path, text)
        return 0.0


def take(name, key=None):
    """True once per control file (`name@key`, else `name`): this call consumes it."""
    for candidate in _names(name, key):
        try:
            os.unlink(os.path.join(control_dir(), candidate))
            return True
        except FileNotFoundError:
            continue
    return False
