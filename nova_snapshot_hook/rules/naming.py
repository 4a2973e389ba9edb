"""Image names and image properties: pure functions, no I/O (the caller says what time it is).

A name reads `<host>-<series>-<UTC time>[-<what>]`, e.g. `web01-apt-20261126T0406Z-upgrade-openssl`,
made only of characters that Glance, shells and humans handle well. Our own properties carry the
`nsh_` prefix; rotation of our own images (the createImage path) trusts only them.
"""

import datetime
import re

from .. import __version__

MAX_NAME = 255              # Glance's limit for a name, Nova's for createBackup's name
MAX_PROPERTY_VALUE = 255    # Nova's limit for a createBackup/createImage metadata value
PREFIX = "nsh_"
SERIES_PROPERTY = PREFIX + "series"
SERVER_PROPERTY = PREFIX + "server"
REQUESTED_PROPERTY = PREFIX + "requested"    # when we asked for the backup, to the microsecond
_REQUESTED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
# Canonical only: an id from the cloud goes into URL paths, where `../volumes/ID` means more.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~_")
_SERIES_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
PINNED_SERIES = "pinned"    # where `pin` moves a backup out of every rotation (rules/pinning.py)


def safe_part(text):
    """Keep the characters we allow; anything else becomes '-', runs of '-' fold into one."""
    out, last_dash = [], False
    for char in text:
        if char in _SAFE:
            out.append(char)
            last_dash = False
        elif not last_dash:
            out.append("-")
            last_dash = True
    return "".join(out).strip("-")


def is_uuid(value):
    """Whether `value` is an OpenStack id as the APIs write it (8-4-4-4-12 hex digits)."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def answered_id(answer, key, noun, request, fix):
    """answer[key] when it is a UUID: an id the cloud answers goes into later URL paths, so any
    other answer (none, a planted "../x") is one line naming `request`, never a KeyError."""
    value = answer.get(key) if isinstance(answer, dict) else None
    if is_uuid(value):
        return value
    from ..errors import CloudError         # here: the hook's fast path imports this module
    from ..text import printable
    raise CloudError(f"{request} was accepted, but the answer named no {noun} "
                     f"({printable(repr(value))[:80]})", fix=fix)


def check_series(series):
    """A series (Nova's backup_type) is a short lowercase word; returns an error text or None."""
    if not series or len(series) > 64:
        return "a series name has 1 to 64 characters"
    if not set(series) <= _SERIES_CHARS or series[0] in "-_":
        return "a series name is made of a-z, 0-9, '-' and '_' and starts with a letter or digit"
    if series == PINNED_SERIES:
        return "'pinned' is reserved for the backups that 'pin' keeps for good"
    return None


def check_name(name):
    """A name given by hand (`snapshot --name`), checked before the pre hooks freeze anything:
    Nova would refuse it only after they did. Returns an error text or None."""
    if not name.strip():
        return "an image name cannot be empty"
    if len(name) > MAX_NAME:
        return f"an image name has at most {MAX_NAME} characters, not {len(name)}"
    if name != name.strip():
        return "Nova refuses a name that begins or ends with white space"
    if any(not char.isprintable() for char in name):
        return "an image name cannot hold control or format characters"
    return None


def timestamp(now):
    """Epoch seconds `now` as `20261126T0406Z` (UTC, to the minute)."""
    return datetime.datetime.fromtimestamp(int(now), datetime.timezone.utc).strftime(
        "%Y%m%dT%H%MZ")


def requested_stamp(now):
    """Epoch seconds `now` as `2026-11-26T04:06:38.123456Z`: UTC to the microsecond, always this
    width, so that the text sorts as the time does."""
    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def short_host(hostname):
    return safe_part(hostname.split(".", 1)[0]) or "host"


def image_name(hostname, series, now, what=""):
    """The backup's name; `what` (the change it precedes) is cut first when the name is too long."""
    base = f"{short_host(hostname)}-{safe_part(series)}-{timestamp(now)}"
    tail = safe_part(what)
    name = f"{base}-{tail}" if tail else base
    return cut(name, MAX_NAME)


def cut(text, limit):
    if len(text) <= limit:
        return text
    return text[:limit].rstrip("-.")


NAME_PROPERTY = PREFIX + "name"
METHOD_PROPERTY = PREFIX + "method"


def own_properties(server_id, series, hostname, trigger, method, name=None, now=None):
    """The properties that mark an image as ours, of this server and this series.

    `name` is the image's own name: Nova copies a server's image properties onto every later
    snapshot of it, so after a restore from one of our backups other people's images carry our
    properties too; only on the image we made does nsh_name equal the image's name.
    `now` (epoch seconds) is when the backup is requested: nsh_requested orders two backups that
    Glance's whole-second created_at cannot tell apart (age_order)."""
    properties = {
        SERIES_PROPERTY: series,
        SERVER_PROPERTY: server_id,
        PREFIX + "host": short_host(hostname),
        PREFIX + "trigger": trigger,
        METHOD_PROPERTY: method,
        PREFIX + "version": __version__,
    }
    if name:
        properties[NAME_PROPERTY] = cut(name, MAX_PROPERTY_VALUE)
    if now is not None:
        properties[REQUESTED_PROPERTY] = requested_stamp(now)
    return properties


def clean_properties(properties):
    """Nova accepts metadata values of at most MAX_PROPERTY_VALUE characters; cut ours to fit."""
    return {key: cut(str(value), MAX_PROPERTY_VALUE) for key, value in properties.items()}


def made_by_us(image):
    """True when our properties were set on this image, not inherited from its base image."""
    series, method, kind = image.get(SERIES_PROPERTY), image.get(METHOD_PROPERTY), \
        image.get("image_type")
    if not series or not image.get(SERVER_PROPERTY):
        return False
    if NAME_PROPERTY in image and image[NAME_PROPERTY] != cut(image.get("name") or "",
                                                              MAX_PROPERTY_VALUE):
        return False
    if kind == "backup":
        return method == "createBackup" and image.get("backup_type") == series
    if kind == "snapshot":
        return method == "createImage"
    return True


def is_ours(image, server_id, series=None):
    """True only for images we made for this server (and this series, when given)."""
    return (made_by_us(image) and image.get(SERVER_PROPERTY) == server_id
            and image.get("instance_uuid", server_id) == server_id
            and (series is None or image.get(SERIES_PROPERTY) == series))


def age_order(image):
    """The key that sorts images oldest first: Glance's created_at, which has whole seconds, then,
    within one second, our nsh_requested. An image without a well-formed one (made by an older
    version, by Nova or by someone else, or one that only inherited it) has "" there: among the
    images of its second it sorts oldest, and between such images the order is the caller's, as
    before nsh_requested existed."""
    stamp = image.get(REQUESTED_PROPERTY) if made_by_us(image) else None
    if not isinstance(stamp, str) or not _REQUESTED.fullmatch(stamp):
        stamp = ""
    return (image.get("created_at") or "", stamp)
