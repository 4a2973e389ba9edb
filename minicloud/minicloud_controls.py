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


def read_seconds(name):
    """A float of seconds from control file `name`; 0 when absent or not a number."""
    path = os.path.join(control_dir(), name)
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return 0.0
    try:
        return max(float(text or 0), 0.0)
    except ValueError:
        LOG.warning("minicloud: ignoring %s: not a number: %r", path, text)
        return 0.0


def take(name):
    """True once per control file: this call consumes it."""
    try:
        os.unlink(os.path.join(control_dir(), name))
    except FileNotFoundError:
        return False
    return True
