"""Keep a still-valid Keystone token between runs, so a snapshot needs no token request.

The cache lives in paths.run_dir(), under /run (tmpfs: never inside a backup image), root-only 0600, one file per
set of credentials (keystoneauth's cache id, hashed). A token is reused only while its remaining
life exceeds the run's whole budget; keystoneauth drops it and authenticates again on a 401.
"""

import hashlib
import os

from .. import paths
from ..files import atomic_write
from ..log import log


def _path(plugin):
    key = hashlib.sha256(plugin.get_cache_id().encode("utf-8")).hexdigest()[:32]
    return os.path.join(paths.run_dir(), f"token-{key}")


def restore(plugin, min_life):
    """Install a cached token into the auth plugin if it lives longer than min_life seconds."""
    path = _path(plugin)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(descriptor, encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        if info.st_mode & 0o077 or info.st_uid != os.geteuid():
            log.warning(f"ignoring the token cache {path}: not private to this user")
            return False
        try:
            plugin.set_auth_state(handle.read())
        except Exception:       # a damaged cache is only a cache
            plugin.set_auth_state(None)
            return False
    if plugin.auth_ref is None or plugin.auth_ref.will_expire_soon(int(min_life)):
        plugin.set_auth_state(None)
        return False
    log.debug("reusing a cached token")
    return True


def save(plugin):
    """Write the plugin's current token, 0600, atomically; never fail the caller."""
    state = plugin.get_auth_state()
    if not state:
        return
    path = _path(plugin)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        atomic_write(path, state, mode=0o600)
    except OSError as err:
        log.debug(f"could not write the token cache {path}: {err}")
