"""One in-memory stand-in for cloud.Cloud, for the unit tests: Nova, Glance and Cinder as far
as this tool uses them, with the answers' shapes and the refusals of the real services, and
Keystone's record of the application credential in use (`credential`).

tests/integration/test_cloud_contract.py runs the same scenarios against it and against the
local cloud, so that what the unit tests learn from it holds on a real cloud.

What it models (as the local cloud behaves):
- createBackup and createImage make a new image `queued`; each read of it moves it one step on
  its capture script (queued, saving, active by default), while the server's task_state follows
  (image_pending_upload, image_uploading, then none). createBackup refuses a volume-backed server
  (400) and any request while a task runs (409, "task_state"); once a backup is active, Nova's
  own rotation deletes the oldest of that server's backup_type beyond `rotation`.
- createImage of a volume-backed server makes an active zero-size image whose
  block_device_mapping names one new Cinder snapshot per attached volume (`creating`, then
  `available` on the next listing).
- Glance: exact-match filters, `id=in:a,b`, JSON patches that fail whole, 403 on deleting a
  protected image, 404 as None or as nothing to delete.
What a test scripts: `capture` (the statuses a new image shows), `script_server` (what the
server shows on its next reads), `snapshot_statuses`, `refusals`
(Nova's answers to the next actions), `faults` (an exception for the next call of a method), and
`between` (a callable run after a named method answers: another actor acting meanwhile).
Every call is recorded in `calls` as (method, first argument or call summary), and with a clock
its time in `times`; every Call sent in `executed`.
"""

import copy
import datetime
import json
import uuid

from nova_snapshot_hook.errors import ActionRefused, CloudError, IdentityError

TASK_STATE, VM_STATE = "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state"
ATTACHED = "os-extended-volumes:volumes_attached"
PROJECT = "0123456789abcdef0123456789abcdef"
# Nova's task_state while Glance shows the new image in each status
TASK_FOR_STATUS = {"queued": "image_pending_upload", "saving": "image_uploading"}


def new_id():
    return str(uuid.uuid4())


class FakeCloud:
    def __init__(self, clock=None):
        self.servers, self.images, self.volumes_by_id, self.snapshots = {}, {}, {}, {}
        self.actions = {}                  # request id -> {"message": ...}
        self.capture = ["queued", "saving", "active"]
        self.snapshot_statuses = ["creating", "available"]
        self.refusals = []                 # (status, detail) for the next server actions
        self.faults = {}                   # method name -> [exception, ...] raised in turn
        self.between = {}                  # method name -> callable(cloud), run once after it
        self.limits = {"maxTotalSnapshots": -1, "totalSnapshotsUsed": 0,
                       "maxTotalVolumeGigabytes": -1, "totalGigabytesUsed": 0}
        self.server_scripts = {}           # server id -> [changes], one applied per read
        self.calls = []
        self.times = []                    # with a clock: when each of `calls` was made
        self.executed = []                 # every text.Call sent, as sent
        self.clock = clock                 # epoch seconds for created_at; a counter without one
        self._tick = 1_796_000_000
        self._scripts = {}                 # image id -> its remaining capture script
        self._snapshot_scripts = {}        # snapshot id -> its remaining statuses
        # Keystone's record of the application credential in use ("id", "name", "expires_at");
        # None: a password, which has no expiry
        self.credential = None

    # -- building the scene ------------------------------------------------------------------
    def add_server(self, name="web01", volume_backed=False, volumes=0, **fields):
        """A server as GET /servers/{id} shows it; `volumes` more volumes attached (the root
        one first for a volume-backed server)."""
        server_id = fields.pop("id", None) or new_id()
        attached = [self.add_volume(bootable=volume_backed and n == 0)
                    for n in range(volumes + (1 if volume_backed else 0))]
        self.servers[server_id] = {
            "id": server_id, "name": name, "status": "ACTIVE", TASK_STATE: None,
            VM_STATE: "active", "image": "" if volume_backed else {"id": new_id()},
            ATTACHED: [{"id": volume_id} for volume_id in attached],
            "flavor": {"id": "1"}, "addresses": {}, "tags": [], "metadata": {},
            "tenant_id": PROJECT, **fields}
        return server_id

    def add_volume(self, size=1, bootable=False, id=None):
        volume_id = id or new_id()
        self.volumes_by_id[volume_id] = {"id": volume_id, "size": size, "status": "in-use",
                                         "bootable": str(bootable).lower()}
        return volume_id

    def add_snapshot(self, volume_id, status="available", metadata=None, id=None, **fields):
        """A Cinder snapshot of `volume_id`; a status of the script goes on along it."""
        snapshot_id = id or new_id()
        self.snapshots[snapshot_id] = {"id": snapshot_id, "volume_id": volume_id,
                                       "status": status, "metadata": dict(metadata or {}),
                                       "size": 1, **fields}
        if status in self.snapshot_statuses:
            self._snapshot_scripts[snapshot_id] = list(
                self.snapshot_statuses[self.snapshot_statuses.index(status) + 1:])
        return snapshot_id

    def add_image(self, **fields):
        image_id = fields.pop("id", None) or new_id()
        self.images[image_id] = {"id": image_id, "name": fields.pop("name", image_id),
                                 "status": "active", "created_at": self._now(),
                                 "owner": PROJECT, "visibility": "private", "protected": False,
                                 **fields}
        return image_id

    def _now(self):
        if self.clock is not None:
            seconds = int(self.clock())
        else:
            self._tick += 1
            seconds = self._tick
        return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")

    # -- what every call does first and last -------------------------------------------------
    def _enter(self, method, what=None):
        self.calls.append((method, what))
        if self.clock is not None:
            self.times.append(self.clock())
        queued = self.faults.get(method)
        if queued:
            raise queued.pop(0)

    def _leave(self, method):
        action = self.between.pop(method, None)
        if action is not None:
            action(self)

    def called(self, method):
        """The first arguments of every call of `method`, in order."""
        return [what for name, what in self.calls if name == method]

    def called_at(self, method, since=0):
        """With a clock: when `method` was called, in order, from the `since`-th call on."""
        return [at for (name, _), at in zip(self.calls[since:], self.times[since:])
                if name == method]

    # -- Nova --------------------------------------------------------------------------------
    def script_server(self, server_id, *changes):
        """What the server shows on its next reads: each read applies the next dict of
        changes (and keeps it); after the last, it stays as it is. E.g. a task running for
        two reads: script_server(id, {TASK_STATE: "image_backup"}, {}, {TASK_STATE: None})."""
        self.server_scripts.setdefault(server_id, []).extend(changes)

    def get_server(self, server_id):
        self._enter("get_server", server_id)
        server = self.servers.get(server_id)
        if server is not None and self.server_scripts.get(server_id):
            server.update(self.server_scripts[server_id].pop(0))
        if server is None:
            raise IdentityError(f"server {server_id} does not exist in the project of test",
                                fix="set [server] id in the settings")
        self._leave("get_server")
        return copy.deepcopy(server)

    def list_servers(self, **filters):
        self._enter("list_servers", filters)
        wanted = set(filters.get("tags", "").split(",")) - {""}
        found = [copy.deepcopy(server) for server in self.servers.values()
                 if wanted <= set(server.get("tags") or [])]
        self._leave("list_servers")
        return found

    def execute(self, call):
        self.executed.append(call)
        body = call.body if isinstance(call.body, dict) else {}
        if call.path.endswith("/action"):
            (action, args), = body.items()
            self._enter("execute", action)
            answer = self._action(call.path.split("/")[-2], action, args)
        elif (call.method, call.path) == ("POST", "/servers"):
            self._enter("execute", "create")
            server_id = self.add_server(**{key: value for key, value in body["server"].items()
                                           if key == "name"})
            answer = {"server": {"id": server_id}}, "req-" + new_id()
        elif call.service == "image" and call.method == "PATCH":
            image_id = call.path.rsplit("/", 1)[-1]
            self._enter("execute", "patch")
            answer = self._patch(image_id, call.body), None
        else:
            raise AssertionError(f"the fake cloud has no {call!r}")
        self._leave("execute")
        return answer

    def _action(self, server_id, action, args):
        server = self.servers.get(server_id)
        if server is None:
            raise CloudError(f"{action} of server {server_id}: HTTP 404 Instance {server_id} "
                             "could not be found.", fix="see the cloud's message")
        if self.refusals:
            status, detail = self.refusals.pop(0)
            raise ActionRefused(f"{action} of server {server_id}: HTTP {status} {detail}",
                                status=status, detail=detail)
        if server[TASK_STATE] is not None:
            detail = (f"Cannot '{action}' instance {server_id} while it is in task_state "
                      f"{server[TASK_STATE]}")
            raise ActionRefused(f"{action} of server {server_id}: HTTP 409 {detail}",
                                status=409, detail=detail)
        request_id = "req-" + new_id()
        self.actions[request_id] = {"message": None}
        if action == "rebuild":
            server["image"] = {"id": args["imageRef"]}
            return {"server": {"id": server_id}}, request_id
        if action == "createBackup" and not server.get("image"):
            detail = "Backup is not supported for volume-backed instances."
            raise ActionRefused(f"{action} of server {server_id}: HTTP 400 {detail}",
                                status=400, detail=detail)
        properties = {"instance_uuid": server_id, "owner": PROJECT,
                      **{key: str(value) for key, value in args.get("metadata", {}).items()}}
        if action == "createBackup":
            properties.update(image_type="backup", backup_type=args["backup_type"])
        else:
            properties.update(image_type="snapshot")
        if not server.get("image"):         # volume-backed: Cinder snapshots, an active image
            del properties["instance_uuid"]     # Nova sets none on these
            return {"image_id": self._volume_image(server, args["name"], properties)}, request_id
        image_id = self.add_image(name=args["name"], status=self.capture[0],
                                  base_image_ref=server["image"]["id"], **properties)
        self._scripts[image_id] = (list(self.capture[1:]), server_id,
                                   args.get("rotation") if action == "createBackup" else None)
        server[TASK_STATE] = TASK_FOR_STATUS.get(self.capture[0])
        return {"image_id": image_id}, request_id

    def _volume_image(self, server, name, properties):
        mapping = []
        for n, attached in enumerate(server[ATTACHED]):
            snapshot_id = new_id()
            self.snapshots[snapshot_id] = {
                "id": snapshot_id, "volume_id": attached["id"], "metadata": {},
                "status": self.snapshot_statuses[0], "name": f"snapshot for {name}",
                "size": self.volumes_by_id[attached["id"]]["size"]}
            self._snapshot_scripts[snapshot_id] = list(self.snapshot_statuses[1:])
            mapping.append({"boot_index": 0 if n == 0 else None, "source_type": "snapshot",
                            "destination_type": "volume", "snapshot_id": snapshot_id,
                            "volume_size": self.snapshots[snapshot_id]["size"]})
        return self.add_image(name=name, size=0, block_device_mapping=json.dumps(mapping),
                              bdm_v2="True", **properties)

    def _advance(self, image_id):
        """One step of a new image's capture, and what Nova does at its end."""
        script, server_id, rotation = self._scripts.get(image_id, ([], None, None))
        image = self.images.get(image_id)
        if not script or image is None:
            return
        image["status"] = script.pop(0)
        server = self.servers.get(server_id)
        if server is not None:
            server[TASK_STATE] = TASK_FOR_STATUS.get(image["status"])
        if image["status"] == "active" and rotation is not None:
            self._rotate(server_id, image["backup_type"], rotation)

    def _rotate(self, server_id, backup_type, rotation):
        """Nova's createBackup rotation: the oldest backups of the server and type beyond
        `rotation` are deleted (Nova sorts on created_at)."""
        backups = sorted((image for image in self.images.values()
                          if image.get("instance_uuid") == server_id
                          and image.get("image_type") == "backup"
                          and image.get("backup_type") == backup_type),
                         key=lambda image: image["created_at"], reverse=True)
        for image in backups[rotation:]:
            if not image.get("protected"):
                del self.images[image["id"]]

    def action_failed(self, server_id, request_id):
        self._enter("action_failed", request_id)
        action = self.actions.get(request_id)
        self._leave("action_failed")
        return None if action is None else action["message"] is not None

    def fail_action(self, request_id=None, message="Image upload failed"):
        """Nova reports the (last) request's instance action as failed, its image killed."""
        request_id = request_id or list(self.actions)[-1]
        self.actions[request_id]["message"] = message

    def server_interfaces(self, server_id):
        self._enter("server_interfaces", server_id)
        self._leave("server_interfaces")
        return []

    def flavor_id(self, flavor):
        self._enter("flavor_id", flavor)
        self._leave("flavor_id")
        return flavor

    def project_id(self):
        self._enter("project_id")
        self._leave("project_id")
        return PROJECT

    # -- Keystone ----------------------------------------------------------------------------
    def application_credential(self):
        self._enter("application_credential")
        self._leave("application_credential")
        return copy.deepcopy(self.credential)

    def replace_credential_fix(self):
        return "make a new application credential"

    # -- Glance ------------------------------------------------------------------------------
    def get_image(self, image_id):
        self._enter("get_image", image_id)
        self._advance(image_id)
        image = copy.deepcopy(self.images.get(image_id))
        self._leave("get_image")
        return image

    def list_images(self, **filters):
        self._enter("list_images", dict(filters))
        for image_id in list(self._scripts):
            if self.images.get(image_id, {}).get("status") not in (None, "active"):
                self._advance(image_id)
        ids = filters.pop("id", None)
        wanted = ids[len("in:"):].split(",") if ids else None
        found = [copy.deepcopy(image) for image in self.images.values()
                 if all(image.get(key) == value for key, value in filters.items())
                 and (wanted is None or image["id"] in wanted)]
        self._leave("list_images")
        return sorted(found, key=lambda image: image["created_at"], reverse=True)

    def delete_image(self, image_id):
        self._enter("delete_image", image_id)
        image = self.images.get(image_id)
        if image is not None and image.get("protected"):
            raise CloudError(f"deleting image {image_id}: HTTP 403 Image {image_id} is "
                             "protected and cannot be deleted.", fix="see the cloud's message")
        self.images.pop(image_id, None)
        self._leave("delete_image")

    def set_image_properties(self, image_id, properties):
        self.patch_image(image_id, [{"op": "add", "path": "/" + key, "value": value}
                                    for key, value in properties.items()])

    def remove_image_properties(self, image_id, keys):
        self.patch_image(image_id, [{"op": "remove", "path": "/" + key} for key in keys])

    def patch_image(self, image_id, patch, doing="updating image"):
        self._enter("patch_image", image_id)
        image = self._patch(image_id, patch)
        self._leave("patch_image")
        return image

    def _patch(self, image_id, patch):
        """Glance's JSON patch: all operations or none; a missing key to remove or replace is
        a 409; a missing image a 404."""
        image = self.images.get(image_id)
        if image is None:
            raise CloudError(f"updating image {image_id}: HTTP 404 No image found with ID "
                             f"{image_id}", fix="see the cloud's message")
        changed = copy.deepcopy(image)
        for operation in patch:
            key = operation["path"].lstrip("/")
            if operation["op"] in ("remove", "replace") and key not in changed:
                raise CloudError(f"updating image {image_id}: HTTP 409 Property {key} does "
                                 "not exist.", fix="see the cloud's message")
            if operation["op"] == "remove":
                del changed[key]
            else:
                changed[key] = operation["value"]
        self.images[image_id] = changed
        return copy.deepcopy(changed)

    # -- Cinder ------------------------------------------------------------------------------
    def has_volume_service(self):
        self._enter("has_volume_service")
        self._leave("has_volume_service")
        return True

    def volume_snapshots(self):
        self._enter("volume_snapshots")
        listed = [copy.deepcopy(snapshot) for snapshot in self.snapshots.values()]
        for snapshot_id, script in self._snapshot_scripts.items():   # Cinder goes on meanwhile
            if script and snapshot_id in self.snapshots:
                self.snapshots[snapshot_id]["status"] = script.pop(0)
        self._leave("volume_snapshots")
        return listed

    def delete_volume_snapshot(self, snapshot_id):
        self._enter("delete_volume_snapshot", snapshot_id)
        self.snapshots.pop(snapshot_id, None)
        self._leave("delete_volume_snapshot")

    def mark_volume_snapshot(self, snapshot_id, metadata):
        self._enter("mark_volume_snapshot", snapshot_id)
        if snapshot_id not in self.snapshots:
            raise CloudError(f"marking volume snapshot {snapshot_id}: HTTP 404",
                             fix="see the cloud's message")
        self.snapshots[snapshot_id]["metadata"].update(metadata)
        self._leave("mark_volume_snapshot")

    def volumes(self, volume_ids):
        self._enter("volumes", list(volume_ids))
        found = [copy.deepcopy(self.volumes_by_id[volume_id]) for volume_id in volume_ids
                 if volume_id in self.volumes_by_id]
        self._leave("volumes")
        return found

    def volume_limits(self):
        self._enter("volume_limits")
        self._leave("volume_limits")
        return dict(self.limits)
