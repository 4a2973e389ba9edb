import threading

import pytest

from nova_snapshot_hook.errors import CloudError
from nova_snapshot_hook.cloud.image_poll import MAX_IDS, SharedImagePoll

from fake_clock import FakeClock


class Glance:
    """Lists images by `id=in:...`; statuses set by the test."""

    def __init__(self, **statuses):
        self.statuses = dict(statuses)
        self.listings = []

    def list_images(self, **filters):
        ids = filters["id"].split(":", 1)[1].split(",")
        self.listings.append(ids)
        return [{"id": i, "status": self.statuses[i]} for i in ids if i in self.statuses]

    def get_server(self, server_id):
        return {"id": server_id}


def test_one_listing_answers_every_worker_within_the_interval():
    glance, clock = Glance(a="queued", b="queued", c="queued"), FakeClock(100.0)
    poll = SharedImagePoll(glance, 0.5, clock)
    assert [poll.get_image(i)["status"] for i in "abc"] == ["queued"] * 3
    assert len(glance.listings) == 3            # each new image is fetched once at first
    clock.now += 1.0
    glance.statuses.update(a="saving", b="active")
    assert poll.get_image("a")["status"] == "saving"      # a fresh listing of a, b and c
    assert sorted(glance.listings[-1]) == ["a", "b", "c"]
    clock.now += 0.1
    assert poll.get_image("b")["status"] == "active" and poll.get_image("c")["status"] == "queued"
    assert len(glance.listings) == 4            # b and c were answered by a's listing


def test_a_worker_never_gets_a_listing_older_than_its_own_last_look():
    glance, clock = Glance(a="queued", b="queued"), FakeClock(100.0)
    poll = SharedImagePoll(glance, 5.0, clock)
    poll.get_image("a")
    clock.now += 0.1
    poll.get_image("b")                         # lists b and a
    clock.now += 0.1
    glance.statuses["a"] = "saving"
    assert poll.get_image("a")["status"] == "queued"      # b's listing came after a's last look
    assert len(glance.listings) == 2
    clock.now += 0.1
    assert poll.get_image("a")["status"] == "saving"      # a looked after that listing: anew
    assert len(glance.listings) == 3


def test_an_image_glance_no_longer_lists_is_none_like_a_404():
    glance, clock = Glance(a="queued"), FakeClock(100.0)
    poll = SharedImagePoll(glance, 0.5, clock)
    assert poll.get_image("a")["status"] == "queued"
    del glance.statuses["a"]
    clock.now += 1
    assert poll.get_image("a") is None


def test_images_no_longer_asked_for_drop_out_of_the_listing():
    glance, clock = Glance(a="active", b="queued"), FakeClock(100.0)
    poll = SharedImagePoll(glance, 0.5, clock)
    poll.get_image("a"), poll.get_image("b")
    for _ in range(5):
        clock.now += 1
        poll.get_image("b")
    assert glance.listings[-1] == ["b"]


def test_a_listing_holds_at_most_max_ids_and_always_the_one_asked_for():
    statuses = {f"i{n:03d}": "queued" for n in range(MAX_IDS + 10)}
    glance, clock = Glance(**statuses), FakeClock(100.0)
    poll = SharedImagePoll(glance, 0.5, clock)
    for image_id in statuses:
        poll.get_image(image_id)
    clock.now += 1
    assert poll.get_image("i045")["status"] == "queued"
    assert len(glance.listings[-1]) == MAX_IDS and glance.listings[-1][0] == "i045"


def test_other_calls_go_to_the_cloud_and_errors_reach_the_caller():
    class Down(Glance):
        def list_images(self, **filters):
            raise CloudError("listing images: HTTP 503")

    poll = SharedImagePoll(Down(), 0.5, FakeClock(100.0))
    assert poll.get_server("s") == {"id": "s"}
    with pytest.raises(CloudError, match="503"):
        poll.get_image("a")


def test_sixteen_workers_at_once_cost_one_listing():
    glance, clock = Glance(**{f"i{n}": "queued" for n in range(16)}), FakeClock(100.0)
    poll = SharedImagePoll(glance, 0.5, clock)
    for n in range(16):
        poll.get_image(f"i{n}")
    clock.now += 1.0
    before = len(glance.listings)
    barrier = threading.Barrier(16)
    seen = {}       # asserted here: an assertion failing in a thread would not fail the test

    def look(n):
        barrier.wait()
        seen[n] = poll.get_image(f"i{n}")["status"]

    threads = [threading.Thread(target=look, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {n: "queued" for n in range(16)}
    assert len(glance.listings) - before == 1 and len(glance.listings[-1]) == 16
