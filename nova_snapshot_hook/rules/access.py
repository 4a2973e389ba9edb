"""Least privilege: the application credential access rules a server's use of the tool needs.

One table, NEEDS, lists every request the code makes, as a path below a service's endpoint. The
rules Keystone stores are built from it with the catalog's own endpoint paths (a cloud may serve
Nova under /compute/v2.1) and service types (block-storage or volumev3), with this server's id in
Nova's paths; Keystone's own API is the service type identity (a credential reads its expiry
there). A test records every request the commands make and checks each one against these rules,
so the printed rules are what the code calls. Matching follows keystonemiddleware: the
method exactly, `*` or `{name}` one path segment, `**` any depth, the whole path, no query string.
Pure: no I/O.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

# What `--for` may add to the default use (snapshot, scheduled, apt hook, status, check).
USES = ("list", "prune", "restore")
BACKUP = "backup"
# Our name for a service -> the catalog types that may stand for it, in order of preference.
SERVICE_TYPES = {"compute": ("compute",), "image": ("image",),
                 "volume": ("block-storage", "volumev3", "volume"), "identity": ("identity",)}
IDENTITY_API = "/v3"


@dataclass(frozen=True)
class Need:
    service: str        # a key of SERVICE_TYPES
    method: str
    path: str           # below the endpoint's path; {server} is filled in
    why: str
    uses: tuple = (BACKUP,)
    when: str = ""      # "": always; "rotation": our own rotation runs; "volume": boots from a
                        # volume; "cinder": the catalog has a volume service
    optional: bool = False  # a credential without it works: only this read is refused


NEEDS = (
    Need("compute", "GET", "/servers/{server}", "the server: confirm it, follow its task_state",
         (BACKUP, "restore")),
    Need("compute", "POST", "/servers/{server}/action", "createBackup or createImage "
         "(restore: rebuild)", (BACKUP, "restore")),
    Need("compute", "GET", "/servers/{server}/os-instance-actions", "check reads them"),
    Need("compute", "GET", "/servers/{server}/os-instance-actions/*",
         "the capture check reads the backup's instance action"),
    Need("compute", "GET", "/limits", "check: the compute quota (optional)"),
    Need("image", "GET", "/v2/images", "this server's backups (list, rotation, status)",
         (BACKUP, "prune", "restore")),
    Need("image", "GET", "/v2/images/*", "the new backup's state; one backup by id",
         (BACKUP, "restore")),
    Need("image", "PATCH", "/v2/images/*", "our properties, pin and unpin, restore's protection",
         (BACKUP, "prune", "restore")),
    Need("image", "DELETE", "/v2/images/*", "our own rotation of a createImage series",
         (BACKUP,), "rotation"),
    Need("image", "DELETE", "/v2/images/*", "prune --delete", ("prune",)),
    Need("image", "GET", "/v2/info/usage", "check: the image quota (optional)"),
    Need("volume", "GET", "/snapshots/detail", "a volume-backed backup's snapshots",
         (BACKUP,), "volume"),
    Need("volume", "POST", "/snapshots/*/metadata", "our marks on a backup's snapshots",
         (BACKUP,), "volume"),
    Need("volume", "DELETE", "/snapshots/*", "rotation deletes a backup with its snapshots",
         (BACKUP,), "volume"),
    Need("volume", "GET", "/volumes/*", "the volumes' sizes, for the snapshot quota",
         (BACKUP,), "volume"),
    Need("volume", "GET", "/limits", "the volume snapshot quota", (BACKUP,), "volume"),
    Need("volume", "GET", "/snapshots/detail", "prune: orphaned snapshots", ("prune",), "cinder"),
    Need("volume", "DELETE", "/snapshots/*", "prune: orphaned snapshots", ("prune",), "cinder"),
    Need("compute", "GET", "/servers/{server}/os-interface", "restore --new: the ports",
         ("restore",)),
    Need("compute", "GET", "/flavors/*", "restore --new --flavor", ("restore",)),
    Need("compute", "POST", "/servers", "restore --new boots a server", ("restore",)),
    Need("compute", "GET", "/servers/*", "restore --new follows the new server", ("restore",)),
    # The credential's own record: its user and id are unknown until it is made (and access-rules
    # may run as another user); Keystone's policy lets a user read only their own credentials.
    Need("identity", "GET", "/users/*/application_credentials/*",
         "check and status: the credential's own expiry (optional)", optional=True),
)


@dataclass(frozen=True)
class Situation:
    """What decides the needs: the server, the settings, the catalog."""
    server_id: str
    rotation: bool          # our own rotation can run: [snapshot] method = image, or volume-backed
    volume_backed: bool
    endpoints: dict         # {our service name: (catalog type, endpoint URL)}


def needs_for(uses, situation):
    """The Needs of the default use plus `uses` (names of USES), in table order, once each."""
    wanted = {BACKUP, *uses}
    conditions = {"": True, "rotation": situation.rotation, "volume": situation.volume_backed,
                  "cinder": "volume" in situation.endpoints}
    return [need for need in NEEDS if wanted.intersection(need.uses) and conditions[need.when]
            and need.service in situation.endpoints]


def optional_rules(uses, situation):
    """The rules of reads a credential works without (refused, they are only reported)."""
    return [rule(need, situation) for need in needs_for(uses, situation) if need.optional]


def rule(need, situation):
    service_type, url = situation.endpoints[need.service]
    prefix = urlsplit(identity_api(url) if need.service == "identity" else url).path.rstrip("/")
    path = need.path.replace("{server}", situation.server_id)
    return {"service": service_type, "method": need.method, "path": prefix + path}


def rules_for(uses, situation):
    """The access rules, without duplicates, in table order."""
    found = []
    for need in needs_for(uses, situation):
        made = rule(need, situation)
        if made not in found:
            found.append(made)
    return found


def pick_endpoints(catalog, interface, region):
    """{our service name: (catalog type, URL)} from a token's catalog (Keystone's v3 list of
    {"type", "endpoints": [{"interface", "region_id"/"region", "url"}]})."""
    found = {}
    for name, types in SERVICE_TYPES.items():
        for service_type in types:
            url = _endpoint_url(catalog, service_type, interface, region)
            if url:
                found[name] = (service_type, url)
                break
    return found


def identity_api(url):
    """Keystone's v3 API below its catalog URL, which often names no version (/identity)."""
    url = url.rstrip("/")
    return url if url.endswith(IDENTITY_API) else url + IDENTITY_API


def _endpoint_url(catalog, service_type, interface, region):
    interface = (interface or "public").replace("URL", "")
    for service in catalog or ():
        if service.get("type") != service_type:
            continue
        for endpoint in service.get("endpoints") or ():
            where = endpoint.get("region_id") or endpoint.get("region")
            if endpoint.get("interface") == interface and (not region or where == region):
                return endpoint.get("url")
    return None


# -- matching, as keystonemiddleware does ------------------------------------------------------
def _pattern(path):
    regex = ""
    for match in re.finditer(r"(?P<tag>{[^}]*})|(?P<rec>\*\*)|(?P<one>\*)|(?P<lit>[^{}*]+)", path):
        if match["tag"] or match["one"]:
            regex += r"[^/]+"
        elif match["rec"]:
            regex += ".*"
        else:
            regex += re.escape(match["lit"])
    return re.compile(f"^{regex}$")


def allows(rule_, service_type, method, path):
    return (rule_.get("service") == service_type and rule_.get("method") == method
            and bool(_pattern(rule_.get("path", "")).match(path)))


def allowed(rules, service_type, method, path):
    return any(allows(one, service_type, method, path) for one in rules)


def request_rule(endpoints, method, url):
    """The exact rule a request needs: {"service", "method", "path"}, or None when the URL is
    under no endpoint of the catalog."""
    path = urlsplit(url).path
    best = None
    for service_type, endpoint in endpoints.values():
        prefix = urlsplit(endpoint).path.rstrip("/")
        if urlsplit(url).netloc == urlsplit(endpoint).netloc and (
                path == prefix or path.startswith(prefix + "/")):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), service_type)
    return None if best is None else {"service": best[1], "method": method.upper(), "path": path}


def compare(granted, needed, widest):
    """(missing, wide): the needed rules that no granted rule covers, and the granted rules
    outside `widest` (every rule any use could need) or with `**`."""
    granted = [{key: one.get(key) for key in ("service", "method", "path")} for one in granted]
    missing = [one for one in needed if not _covered(granted, one)]
    wide = [one for one in granted if one not in widest or "**" in one.get("path", "")]
    return missing, wide


def _covered(granted, needed_rule):
    """Whether a granted rule allows every request the needed rule does: the needed path, with
    each wildcard taken as a segment no one would name, must match."""
    probe = re.sub(r"\*\*|\*|{[^}]*}", "x-any-segment", needed_rule["path"])
    return any(one == needed_rule or allows(one, needed_rule["service"], needed_rule["method"],
                                            probe) for one in granted)


def describe(rule_):
    return f"{rule_['service']} {rule_['method']} {rule_['path']}"


def to_yaml(rules):
    """YAML by hand (a flat list of flat maps), each value quoted as JSON, which YAML reads."""
    import json
    lines = []
    for one in rules:
        for n, key in enumerate(("service", "method", "path")):
            lines.append(("- " if n == 0 else "  ") + f"{key}: {json.dumps(one[key])}")
    return "\n".join(lines)
