"""One Glance listing answers every fleet worker's look at its new image.

Each fleet worker waits for its own server's capture and looks at its image every poll
interval. With N workers that is N GETs a second against the cloud that is busy taking the
backups (and counting them against a rate limit). SharedImagePoll answers them all from one
`GET /v2/images?id=in:...` of every image still watched, fetched at most every `max_age`
seconds: the workers see the same statuses as before, with one request instead of N.
"""

import threading
import time

MAX_IDS = 40          # ids per listing: a URL of about 1.6 KB, far below any server's limit


class SharedImagePoll:
    """A cloud.Cloud whose get_image() is answered from a shared, batched listing; every other
    call goes to the cloud unchanged."""

    def __init__(self, cloud, max_age, clock=time.monotonic):
        self._cloud, self._max_age, self._clock = cloud, max_age, clock
        self._lock = threading.Lock()
        self._asked = {}            # image id -> when a worker last asked for it
        self._seen = {}             # image id -> (when fetched, the image or None)

    def __getattr__(self, name):
        return getattr(self._cloud, name)

    def get_image(self, image_id):
        with self._lock:
            now = self._clock()
            # Asked before, this worker wants an answer fetched after its last look.
            last_asked = self._asked.get(image_id)
            self._asked[image_id] = now
            fetched = self._seen.get(image_id)
            if fetched and now - fetched[0] < self._max_age and \
                    (last_asked is None or fetched[0] >= last_asked):
                return fetched[1]
            self._fetch(image_id, now)
            return self._seen[image_id][1]

    def _fetch(self, image_id, now):
        """One listing of the watched images: those asked for within the last few intervals
        (a worker whose capture is seen stops asking, and its image drops out)."""
        recent = now - 3 * max(self._max_age, 1.0)
        for stale in [known for known, when in self._asked.items() if when < recent]:
            del self._asked[stale]
            self._seen.pop(stale, None)
        watched = [image_id] + sorted(known for known in self._asked if known != image_id)
        watched = watched[:MAX_IDS]
        images = {image.get("id"): image
                  for image in self._cloud.list_images(id="in:" + ",".join(watched))}
        fetched_at = self._clock()
        for known in watched:
            # Not listed: Glance no longer has it (deleted), as get_image's None says.
            self._seen[known] = (fetched_at, images.get(known))
