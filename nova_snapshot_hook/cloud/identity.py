"""Which server am I: this VM's Nova id, from local sources first and the network last.

Every file is read under `root` ("/" in production, a fixture tree in tests). The id found here is only
a claim: the cloud module confirms it with GET /servers/{id} before any write. Nothing here talks to Nova.
"""

import logging
import os
import re

from ..config import DEFAULT_METADATA_URL as METADATA_URL
from ..errors import IdentityError
from ..paths import SETTINGS as SETTINGS_FILE

DEFAULT_TIMEOUT = 2.0
DMIDECODE = "/usr/sbin/dmidecode"
CLOUD_INIT_DATA = "run/cloud-init/instance-data.json"     # /run is tmpfs: always this boot's data
# Only a config drive that is already mounted is read. Mounting one ourselves would mean scanning block
# devices for the label config-2 and changing the system's mounts from inside an apt run; cloud-init has
# already read the drive and left the id in its instance data, which comes first anyway.
CONFIG_DRIVE_DIRS = ("mnt/config", "media/config-2", "config-drive")
CONFIG_DRIVE_FILE = "openstack/latest/meta_data.json"
DMI_PRODUCT_UUID = "sys/class/dmi/id/product_uuid"
_MAX_BYTES = 1 << 20
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_PLACEHOLDERS = {"0" * 32, "f" * 32}     # what firmware reports when it has no UUID to give

log = logging.getLogger(__name__)


class _NotFound(Exception):
    """A source that gave nothing; the message says why, for the list of what was tried."""


def normalize_uuid(value):
    """The canonical lowercase form of a UUID, or None for anything else, including placeholders."""
    text = str(value or "").strip().lower().strip("{}")
    if not _UUID.fullmatch(text):
        return None
    digits = text.replace("-", "")
    if digits in _PLACEHOLDERS:
        return None
    return "-".join((digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:]))


def detect_server_id(root="/", metadata_url=METADATA_URL, timeout=DEFAULT_TIMEOUT):
    """(server id, where it came from), or (None, what was tried and why each gave nothing)."""
    tried = []
    for description, read in _sources(root, metadata_url, timeout):
        try:
            raw = read()
        except _NotFound as why:
            tried.append(f"{description}: {why}")
            continue
        server_id = normalize_uuid(raw)
        if server_id:
            return server_id, description
        log.debug("ignoring %s: %r is not a usable UUID", description, raw)
        tried.append(f"{description}: not a usable UUID")
    return None, "; ".join(tried)


def resolve_server_id(configured_id, root="/", metadata_url=METADATA_URL, timeout=DEFAULT_TIMEOUT,
                      settings_path=SETTINGS_FILE):
    """(server id, source). A configured id must agree with the detected one, when there is one."""
    fix_setting = f"set [server] id in {settings_path} to this VM's server id, or leave it empty to detect it"
    configured = (configured_id or "").strip()
    wanted = normalize_uuid(configured) if configured else None
    if configured and not wanted:
        raise IdentityError(f"[server] id {configured!r} in {settings_path} is not a server id (a UUID)",
                            fix=fix_setting)
    detected, where = detect_server_id(root, metadata_url, timeout)
    if wanted and detected and wanted != detected:
        raise IdentityError(
            f"the settings name server {wanted}, but {where} says this VM is server {detected}: this VM "
            "looks like a copy booted from another server's backup, carrying the original's settings, "
            "so it will not back up or rotate the original's series",
            fix=f"set [server] id in {settings_path} to {detected}, or leave it empty to detect it")
    if wanted:
        confirmed = f", matching {where}" if detected else ""
        return wanted, f"[server] id in {settings_path}{confirmed}"
    if detected:
        return detected, where
    raise IdentityError(f"cannot tell which server this VM is; tried {where}", fix=fix_setting)


def _sources(root, metadata_url, timeout):
    """(description, reader) in order of trust and cost: local files, a local program, the network."""
    cloud_init = _under(root, CLOUD_INIT_DATA)
    yield f"cloud-init instance data {cloud_init}", lambda: _json_field(cloud_init, "v1", "instance_id")
    for relative in CONFIG_DRIVE_DIRS:
        directory = _under(root, relative)
        yield f"config drive {directory}", lambda directory=directory: _config_drive(root, directory)
    dmi = _under(root, DMI_PRODUCT_UUID)
    yield f"DMI product UUID {dmi}", lambda: _read_small(dmi).decode("ascii", "replace")
    yield f"{DMIDECODE} -s system-uuid", lambda: _dmidecode(root, timeout)
    yield f"metadata service {metadata_url or '(disabled)'}", lambda: _metadata_service(metadata_url, timeout)


def _under(root, relative):
    return os.path.join(root, relative)


def _read_small(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(_MAX_BYTES)
    except FileNotFoundError:
        raise _NotFound("missing") from None
    except PermissionError:
        raise _NotFound("not readable (needs root)") from None
    except OSError as err:
        raise _NotFound(err.strerror or "cannot be read") from None


def _json_value(data, *keys):
    import json     # lazily: runs settled before identity is needed must not pay for it
    try:
        value = json.loads(data)
    except ValueError:
        raise _NotFound("not valid JSON") from None
    for key in keys:
        if not isinstance(value, dict):
            value = None
            break
        # cloud-init has spelt v1 keys both with underscores and with hyphens over the years.
        value = value.get(key, value.get(key.replace("_", "-")))
    if value is None:
        raise _NotFound(f"has no {'.'.join(keys)}")
    return value


def _json_field(path, *keys):
    return _json_value(_read_small(path), *keys)


def _config_drive(root, directory):
    if not os.path.isdir(directory):
        raise _NotFound("not mounted")
    # In production a directory that is not a mount point is no config drive: it may be a copy of the
    # original server's drive inside this image. Fixture trees have no mounts, so only for root "/".
    if root == "/" and not os.path.ismount(directory):
        raise _NotFound("a plain directory, not a mounted config drive")
    return _json_field(os.path.join(directory, CONFIG_DRIVE_FILE), "uuid")


def _dmidecode(root, timeout, program=None):
    program = program or DMIDECODE
    if root != "/":
        raise _NotFound("not run for a root other than /")
    if not os.access(program, os.X_OK):
        raise _NotFound("not installed")
    import subprocess
    try:
        done = subprocess.run([program, "-s", "system-uuid"], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise _NotFound(f"no answer within {timeout:g} s") from None
    except OSError as err:
        raise _NotFound(err.strerror or "cannot be run") from None
    if done.returncode != 0:
        raise _NotFound(f"failed with exit status {done.returncode}")
    # Newer SMBIOS versions make dmidecode print "# ..." notes before the value.
    lines = [line for line in done.stdout.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise _NotFound("printed nothing")
    return lines[-1]


def _metadata_service(url, timeout):
    if not url:
        raise _NotFound("disabled by an empty metadata_url")
    if not url.startswith(("http://", "https://")):
        raise _NotFound("metadata_url is not an http:// or https:// URL")
    import http.client
    import urllib.error
    import urllib.request
    # No proxy: the metadata address is link-local, and a proxy would answer for its own host.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            body = response.read(_MAX_BYTES)
    except urllib.error.HTTPError as err:
        raise _NotFound(f"answered HTTP {err.code}") from None
    except urllib.error.URLError as err:
        raise _NotFound(f"unreachable ({getattr(err.reason, 'strerror', None) or err.reason})") from None
    except (OSError, http.client.HTTPException) as err:
        raise _NotFound(f"unreachable ({type(err).__name__})") from None
    return _json_value(body, "uuid")
