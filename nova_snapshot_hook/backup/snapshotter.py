"""Take one backup of this server: request it, wait for the capture, rotate what is ours.

The flow: confirm the server -> createBackup (or createImage) -> poll Glance and Nova until the disk
is captured -> on the createImage path, rotate our own images once the new one is active.
`cloud` is a cloud.Cloud; `clock`, `sleep` and `wall_clock` (the time nsh_requested records) are
parameters so the logic is testable.
"""

import time
from dataclasses import dataclass, field

from ..rules import capture, naming, rotation, volumes
from . import delete
from ..errors import ActionRefused, CaptureTimeout, CloudError
from ..log import SUCCESS, log
from ..text import Call
from ..waiting import growing, wait_until

TASK_STATE = "OS-EXT-STS:task_state"
WAITS = ("captured", "active", "none")
# The wait for the capture: apt is held until it is seen, so it is looked at soon and often at
# first (SnapshotRequest.capture_step, 0.1 s), then at a pace proportional to the time it has
# taken so far (bench/apt_hold.py).
CAPTURE_SHARE = 0.1         # a later step is this share of the time since the request: a
                            # real 1 GB disk is captured in about 3 s (bench/guest_hold.py)
TASK_STATE_EVERY = 1.0      # while Glance says queued, Nova's task_state is read this often


@dataclass(frozen=True)
class SnapshotRequest:
    series: str = "manual"
    rotation: int = 7
    name: str = ""
    wait: str = "captured"
    method: str = "auto"                 # auto | backup | image
    trigger: str = "manual"
    properties: dict = field(default_factory=dict)
    poll_interval: float = 1.0
    capture_step: float = 0.1            # the shortest step between looks at the capture
    task_state_every: float = TASK_STATE_EVERY


@dataclass
class SnapshotResult:
    image_id: str
    name: str
    series: str
    rotation: int
    server_id: str
    method: str
    state: str                           # requested | captured | active
    seconds: float
    rotated: list = field(default_factory=list)

    def as_dict(self):
        return dict(self.__dict__)


def action_body(method, name, series, rotation_count, metadata):
    """The server action and its body: what --dry-run prints and what is sent."""
    if method == "image":
        return "createImage", {"name": name, "metadata": metadata}
    return "createBackup", {"name": name, "backup_type": series, "rotation": rotation_count,
                            "metadata": metadata}


def backup_call(server_id, hostname, request, method, name, now):
    """The backup request for one server as a Call: `method` is "backup" or "image"; `now`
    (epoch seconds) is when it is sent, for nsh_requested."""
    metadata = naming.clean_properties({
        **naming.own_properties(server_id, request.series, hostname, request.trigger,
                                "createImage" if method == "image" else "createBackup", name,
                                now=now),
        **request.properties})
    action, body = action_body(method, name, request.series, request.rotation, metadata)
    return Call("POST", "compute", f"/servers/{server_id}/action", {action: body})


def planned_call(server_id, hostname, request, server=None):
    """What a dry run shows: the request as it would first be sent, chosen as a real run
    chooses it (first_method) from the server when it was read."""
    now = time.time()
    name = request.name or naming.image_name(hostname, request.series, now)
    return backup_call(server_id, hostname, request, first_method(request.method, server), name,
                       now)


def accepted_image_id(answer, call):
    """The new image's id from Nova's answer to the backup request (microversion >= 2.45)."""
    return naming.answered_id(answer, "image_id", "image id", f"{call.method} {call.path}",
                              fix="check that the compute endpoint is Nova at microversion "
                                  "2.45 or later")


def first_method(request_method, server=None):
    """ "image" (createImage) or "backup" (createBackup): the method forced, or createImage for
    a server that boots from a volume (createBackup is refused for it). Without the server (a
    dry run that reads nothing), "auto" shows createBackup, as the first request of a server
    that boots from an image."""
    if request_method == "image" or (server is not None and volumes.is_volume_backed(server)):
        return "image"
    return "backup"


class Snapshotter:
    def __init__(self, cloud, server_id, request, deadline, hostname, clock=time.monotonic,
                 sleep=time.sleep, on_captured=None, wall_clock=time.time):
        self.cloud, self.server_id, self.request = cloud, server_id, request
        self.deadline, self.hostname = deadline, hostname
        self.clock, self.sleep, self.wall_clock = clock, sleep, wall_clock
        self.on_captured = on_captured       # the post hooks: the earliest moment they may run
        self.image_id = None                 # once Nova accepted the request
        self.server = {}                     # as confirmed before the request

    def wait(self, probe, schedule):
        """probe() until it answers (not None) or the deadline passes (None)."""
        return wait_until(probe, self.deadline, schedule, clock=self.clock, sleep=self.sleep)

    def quick_pauses(self):
        """Look at once, then quickly (a task often ends within a second), slowing down to every
        poll_interval."""
        return growing(0.25, self.request.poll_interval)

    def capture_pauses(self):
        """Look capture_step after the request, then every CAPTURE_SHARE of the time since the
        request, between capture_step and poll_interval. With the defaults a capture is seen
        within 0.1 s when it takes under a second, and within a tenth of its time (at most
        poll_interval) when it takes longer."""
        asked = self.clock()
        while True:
            since = self.clock() - asked
            yield min(self.request.poll_interval, max(self.request.capture_step,
                                                      since * CAPTURE_SHARE))

    # -- the steps ---------------------------------------------------------------------------
    def run(self):
        started = self.clock()
        request = self.request
        name = request.name or naming.image_name(self.hostname, request.series, self.wall_clock())
        server = self.server = self.wait_until_idle()
        volume_backed = volumes.is_volume_backed(server)
        if volume_backed and request.method != "image":
            asked = " (asked for by method backup)" if request.method == "backup" else ""
            log.info(f"The server boots from a volume: createBackup{asked} is not possible, "
                     "using createImage (Cinder snapshots its volumes) and our own rotation.")
        method = first_method(request.method, server)
        if volume_backed and method == "image":
            self.check_volume_quota(server)
        try:
            image_id, request_id = self.ask(method, name)
        except ActionRefused as refused:
            if request.method == "auto" and capture.is_volume_backed_refusal(refused.status,
                                                                              refused.detail):
                log.info("The server boots from a volume: createBackup is not possible, "
                         "using createImage and our own rotation.")
                method = "image"
                image_id, request_id = self.ask(method, name)
            else:
                raise
        self.image_id = image_id
        log.info(f"Backup image {name} ({image_id}) requested; waiting for the capture.")
        state = "requested"
        if request.wait != "none":
            state = self.wait_for_capture(image_id, request_id, until_active=request.wait == "active")
        rotated = self.rotate_safely(image_id) if method == "image" else []
        return SnapshotResult(image_id=image_id, name=name, series=request.series,
                              rotation=request.rotation, server_id=self.server_id,
                              method="createImage" if method == "image" else "createBackup",
                              state=state, seconds=round(self.clock() - started, 2), rotated=rotated)

    def wait_until_idle(self):
        """Confirm the server (GET /servers/{id}) and let a running task finish first; returns
        the server as a dict."""
        task_state = "unknown"

        def idle():
            nonlocal task_state
            server = self.cloud.get_server(self.server_id)
            task_state = server.get(TASK_STATE)
            if task_state is None:
                return server
            log.debug(f"server {self.server_id} is busy: task_state {task_state}")
            return None

        server = self.wait(idle, self.quick_pauses())
        if server is not None:
            return server
        raise CloudError(f"server {self.server_id} stayed busy (task_state {task_state}) until the "
                         "deadline", fix="retry later, or raise [snapshot] timeout or --timeout")

    def check_volume_quota(self, server):
        """Refuse before Nova does, with the numbers: a createImage that Cinder's quota cannot
        hold would fail half-way (Nova refuses with 403 only on the snapshot count). A quota we
        cannot read is no reason to skip the backup."""
        try:
            attached = self.cloud.volumes(volumes.attached_volume_ids(server))
            limits = self.cloud.volume_limits()
        except CloudError as err:
            log.warning(f"could not read the volume snapshot quota before the backup: {err}")
            return
        count, gigabytes = volumes.backup_needs(attached)
        problems = volumes.quota_problems(limits, count, gigabytes)
        if problems:
            keep = max(1, self.request.rotation)
            raise CloudError(
                "no backup requested: " + "; ".join(problems) + f". Series {self.request.series} "
                f"keeps {keep} backup(s) of {count} volume snapshot(s) each and needs room for one "
                f"more while a new one is made ({(keep + 1) * count} snapshots)",
                fix="delete surplus backups ('nova-snapshot-hook prune'), lower the rotation, or "
                    "ask the cloud for more volume snapshot quota")

    def ask(self, method, name):
        """Send the action; a 409 for a task in progress is waited out within the deadline."""
        refused = None

        def send():
            nonlocal refused
            if self.clock() >= self.deadline:     # not at the last look: nobody would wait
                return None
            # built at each attempt: nsh_requested is the time of the request Nova accepts
            call = backup_call(self.server_id, self.hostname, self.request, method, name,
                               self.wall_clock())
            (_, body), = call.body.items()
            self.sent_properties = set(body["metadata"])
            try:
                answer, request_id = self.cloud.execute(call)
                return accepted_image_id(answer, call), request_id
            except ActionRefused as err:
                if not capture.is_task_state_conflict(err.status, err.detail):
                    raise
                refused = err
                log.info("The server is busy with another snapshot; waiting for it (HTTP 409).")
                return None

        sent = self.wait(send, self.quick_pauses())
        if sent is not None:
            return sent
        raise CloudError(f"{refused or 'the request'}: still busy at the deadline",
                         fix="retry later, or raise [snapshot] timeout or --timeout")

    def wait_for_capture(self, image_id, request_id, until_active):
        action_failed = None
        reason = "no answer yet"
        known, read_at = None, None     # the last task_state read from Nova, and when

        def look():
            nonlocal action_failed, reason, known, read_at
            image = self.cloud.get_image(image_id)
            status = image.get("status") if image else None
            task_state = None
            if image and status not in ("saving", "active"):
                if read_at is None or known is None or self.clock() - read_at >= \
                        self.request.task_state_every:
                    known = self.cloud.get_server(self.server_id).get(TASK_STATE)
                    read_at = self.clock()
                task_state = known
                if task_state is None and action_failed is None:
                    action_failed = self.cloud.action_failed(self.server_id, request_id)
                    return None     # look at the image once more before trusting task_state
            state, reason = capture.capture_state(status, task_state, action_failed)
            if state == capture.CAPTURED and volumes.snapshot_ids(image):
                state, reason = self.volume_capture(image_id, image)
            if state == capture.FAILED:
                fate = self.discard_failed(image_id, image)
                raise CloudError(f"the backup {image_id} failed: {reason}{fate}; older backups "
                                 "are untouched", fix="see nova-compute's log on the cloud, or retry")
            if state == capture.CAPTURED and self.on_captured is not None:
                self.on_captured(image_id)
            if state == capture.CAPTURED and (not until_active or status == "active"):
                self.drop_inherited(image_id, image)
                return "active" if status == "active" else "captured"
            return None

        state = self.wait(look, self.capture_pauses())
        if state is not None:
            return state
        self.mark_not_captured(image_id)
        raise CaptureTimeout(f"the backup {image_id} was requested but not "
                             f"{'active' if until_active else 'captured'} before the deadline "
                             f"({reason}); it may still complete",
                             fix="raise --timeout or [snapshot] timeout")

    def volume_capture(self, image_id, image):
        """The state of a volume-backed backup's Cinder snapshots; failed ones fail the backup.
        When Cinder cannot be read, the image Nova made stands, with one warning."""
        ids = volumes.snapshot_ids(image)
        try:
            listed = {snapshot.get("id"): snapshot for snapshot in self.cloud.volume_snapshots()}
        except CloudError as err:
            log.warning(f"The backup {image_id} was made, but the state of its volume snapshots "
                        f"could not be read: {err}")
            return capture.CAPTURED, "volume snapshots not confirmed"
        state, reason = volumes.snapshots_state(ids, listed)
        if state == capture.CAPTURED:
            delete.mark_snapshots(self.cloud, image_id, self.server_id, ids)
        return state, reason

    def drop_inherited(self, image_id, image):
        """Nova copies the server's image properties onto the new one: after a restore from one
        of our backups, that brings the old backup's nsh_* facts. Remove those we did not set."""
        stale = sorted(key for key in (image or {}) if key.startswith(naming.PREFIX)
                       and key not in getattr(self, "sent_properties", ()))
        if not stale:
            return
        try:
            self.cloud.remove_image_properties(image_id, stale)
        except CloudError as err:
            log.warning(f"could not remove inherited properties from {image_id}: {err}")

    def discard_failed(self, image_id, image):
        """Our own failed new image is deleted, so it cannot take a rotation slot. Returns what
        became of it, for the run's one error line."""
        snapshot_ids = volumes.snapshot_ids(image)
        if not image or (image.get("status") == "active" and not snapshot_ids):
            return ""
        try:
            deleted = delete.delete_backup(self.cloud, image, self.server_id, self.volume_ids(),
                                           new=True)
        except CloudError as err:
            return f" (deleting it failed too: {err}; the next run or 'prune' finishes it)"
        if deleted is None:
            return "; it changed meanwhile and was left alone"
        if deleted:
            return f"; it was deleted with its {len(deleted)} volume snapshot(s)"
        return "; it was deleted"

    def mark_not_captured(self, image_id):
        try:
            self.cloud.set_image_properties(image_id, {naming.PREFIX + "capture": "not-guaranteed"})
        except CloudError as err:
            log.warning(f"could not mark {image_id} as not captured in time: {err}")

    def rotate_safely(self, new_image_id):
        """The backup is made: a failed rotation keeps the older images (the next run rotates
        them), and is a warning, not a failed backup."""
        try:
            return self.rotate(new_image_id)
        except CloudError as err:
            log.warning(f"The backup was made, but rotating the series {self.request.series} "
                        f"failed: {err}; older backups are kept, the next run rotates them.")
            return []

    def rotate(self, new_image_id):
        """createImage path: delete our own surplus active images (rotation.py decides), each
        with its volume snapshots; then our snapshots that a half-done deletion left behind."""
        images = self.cloud.list_images(**{naming.SERVER_PROPERTY: self.server_id})
        series = [image for image in images
                  if image.get(naming.SERIES_PROPERTY) == self.request.series]
        doomed = rotation.select_for_rotation(series, self.server_id, self.request.series,
                                              self.request.rotation, new_image_id)
        rotated = []
        for image in doomed:
            log.info(f"Rotation: deleting {image.get('name')} ({image['id']})"
                     + (" with its volume snapshots." if volumes.snapshot_ids(image) else "."))
            if delete.delete_backup(self.cloud, image, self.server_id,
                                    self.volume_ids()) is not None:
                rotated.append(image["id"])
        if any(volumes.snapshot_ids(image) for image in images):
            # `images` still holds the doomed ones: their snapshots went with them just now
            delete.delete_orphans(self.cloud, self.server_id, images, self.volume_ids())
        return rotated

    def volume_ids(self):
        """The server's volumes as Nova listed them before the request: the only ones whose
        snapshots a deletion touches."""
        return volumes.attached_volume_ids(self.server)


def report(result):
    log.log(SUCCESS, f"Backup image {result.name} ({result.image_id}) {result.state} in "
                     f"{result.seconds:.1f} s; series {result.series}, rotation {result.rotation}.")
