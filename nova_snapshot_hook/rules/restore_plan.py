"""Restoring from a backup image: what may be done, and the exact calls. Pure, no I/O.

Two ways (doc/nova-backup-api.md, Restore): rebuild this server in place (it keeps its
id, addresses and volumes; its disk becomes the image, so everything written since the backup is
lost), or boot a new server from the image with this server's flavor, networks, key, security
groups and availability zone. Either way the image is first protected in Glance, so that no
rotation deletes the image a server now runs from. The calls are data (Call), so `--dry-run`
prints exactly what a real run sends.
"""

from . import inventory, volumes
from .capture import CAPTURED
from ..errors import ConfigError
from ..text import Call, format_time, human_age

REBUILD_STATES = ("active", "stopped", "error")
TASK_STATE, VM_STATE = "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state"
AVAILABILITY_ZONE = "OS-EXT-AZ:availability_zone"


def protect_call(image_id):
    return Call("PATCH", "image", f"/v2/images/{image_id}",
                [{"op": "replace", "path": "/protected", "value": True}])


def rebuild_call(server_id, image_id):
    return Call("POST", "compute", f"/servers/{server_id}/action",
                {"rebuild": {"imageRef": image_id}})


def create_call(body):
    return Call("POST", "compute", "/servers", body)


def unprotect_hint(image_id):
    return f"openstack image set --unprotected {image_id}"


# -- rebuild in place ---------------------------------------------------------------------------
def rebuild_refusals(server, image, server_id, force=False):
    """Why this server must not be rebuilt from this image (empty: it may)."""
    problems = []
    if image.get("status") != "active":
        problems.append(f"image {image.get('id')} is {image.get('status')}, not active")
    problems += unusable_backup(image, None)
    owner = image.get("instance_uuid")
    if owner != server_id and not force:
        whose = f"server {owner}" if owner else "no server (it is not a backup)"
        problems.append(f"image {image.get('id')} belongs to {whose}, not to this server "
                        f"{server_id}; --force rebuilds this server from it anyway")
    if not server.get("image"):
        problems.append(f"server {server_id} boots from a volume: Nova rebuilds it with "
                        "another image only from compute API 2.93, and from a volume-backed "
                        "backup (a zero-size image) Zed's Nova reports success while the rebuild "
                        "fails and leaves the root volume 'reserved' (doc/nova-backup-api.md); "
                        "use --new NAME, which boots a server from the backup's volume "
                        "snapshots")
    vm_state = server.get(VM_STATE)
    if vm_state not in REBUILD_STATES:
        problems.append(f"server {server_id} is {vm_state}: Nova rebuilds only an active, "
                        "stopped or error server")
    elif server.get(TASK_STATE):
        problems.append(f"server {server_id} is busy (task_state {server.get(TASK_STATE)}); "
                        "retry when it is done")
    return problems


def rebuild_explanation(server, image, now):
    created = inventory.parse_time(image.get("created_at"))
    when = format_time(created)
    age = f", {human_age(now - created)} ago" if created else ""
    return [
        f"Rebuild server {server.get('name')} ({server.get('id')}) in place from backup image "
        f"{image.get('name')} ({image.get('id')}), created {when} UTC{age}.",
        f"- Its disk is replaced by the image: EVERYTHING WRITTEN SINCE {when} UTC IS LOST "
        "(files, databases, logs, packages changed since).",
        "- It keeps its id, its addresses and its attached volumes (whose data is not in the "
        "image and is not rolled back).",
        "- The machine stops and boots from the image: run on this machine, this command may end "
        "here; the rebuild goes on in the cloud.",
    ]


# -- a new server -------------------------------------------------------------------------------
def networks_of(server, interfaces):
    """The networks to give a new server: the server's ports' networks, in order, each once;
    "none" for a server without any. The ports themselves stay with the old server."""
    networks = []
    for port in interfaces:
        net_id = port.get("net_id")
        if net_id and {"uuid": net_id} not in networks:
            networks.append({"uuid": net_id})
    if networks:
        return networks
    if server.get("addresses"):
        raise ConfigError(f"server {server.get('id')} has addresses but its ports could not be "
                          "read, so its networks cannot be copied",
                          fix="give --network NET_ID (repeatable), or --no-network")
    return "none"


def security_groups_of(server):
    names = []
    for group in server.get("security_groups") or []:
        name = group.get("name") if isinstance(group, dict) else None
        if name and name not in names:
            names.append(name)
    return names


def new_server_body(name, server, image_id, interfaces, flavor=None, networks=None,
                    no_network=False, key_name=None, security_groups=None,
                    availability_zone=None):
    """(the POST /servers body, [what was copied from where]). Options given win; the rest is
    copied from `server` (GET /servers/{id} at microversion 2.45, as a dict)."""
    notes = []

    def take(label, given, copied):
        if given:
            notes.append(f"{label}: {given} (given)")
            return given
        if copied:
            notes.append(f"{label}: {copied} (copied from server {server.get('name')})")
        return copied

    flavor_id = take("flavor", flavor, (server.get("flavor") or {}).get("id"))
    if not flavor_id:
        raise ConfigError(f"server {server.get('id')} shows no flavor id", fix="give --flavor")
    if no_network:
        nets = "none"
        notes.append("networks: none (--no-network)")
    elif networks:
        nets = [{"uuid": net} for net in dict.fromkeys(networks)]
        notes.append(f"networks: {', '.join(dict.fromkeys(networks))} (given)")
    else:
        nets = networks_of(server, interfaces)
        notes.append("networks: " + ("none (the server has none)" if nets == "none" else
                                     ", ".join(n["uuid"] for n in nets) + " (copied from server "
                                     f"{server.get('name')}; new ports, new addresses)"))
    body = {"name": name, "imageRef": image_id, "flavorRef": flavor_id, "networks": nets}
    key = take("key", key_name, server.get("key_name"))
    if key:
        body["key_name"] = key
    groups = take("security groups", ", ".join(security_groups or []),
                  ", ".join(security_groups_of(server)))
    if groups:
        body["security_groups"] = [{"name": group} for group in
                                   (security_groups or security_groups_of(server))]
    zone = take("availability zone", availability_zone, server.get(AVAILABILITY_ZONE))
    if zone:
        body["availability_zone"] = zone
    if str(server.get("config_drive")).lower() == "true":
        body["config_drive"] = True
        notes.append("config drive: yes (copied)")
    return {"server": body}, notes


def new_server_refusals(image, snapshots=None):
    """Why no server can boot from this image (empty: it can). `snapshots`: Cinder's snapshots
    by id, for a volume-backed backup (None: not known)."""
    if image.get("status") != "active":
        return [f"image {image.get('id')} is {image.get('status')}, not active"]
    return unusable_backup(image, snapshots)


def unusable_backup(image, snapshots):
    """A volume-backed backup half deleted, or whose snapshots are not all available."""
    if volumes.being_deleted(image):
        return [f"image {image.get('id')} is being deleted (some of its volume snapshots may be "
                "gone already)"]
    ids = volumes.snapshot_ids(image)
    if not ids or snapshots is None:
        return []
    state, reason = volumes.snapshots_state(ids, snapshots)
    return [] if state == CAPTURED else [f"backup {image.get('id')} is not usable: {reason}"]
