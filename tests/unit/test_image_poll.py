import threading

import pytest

from nova_snapshot_hook.errors import CloudError
from nova_snapshot_hook.cloud.image_poll import MAX_IDS, SharedImagePoll

from fake_clock import FakeClock
from fake_cloud import FakeCloud


class Glance(FakeCloud):
    """FakeCloud that records the ids each listing asks for, as called("ids listed"): its own
    record of list_images loses `id` (popped from the recorded filters)."""

    def list_images(self, **filters):
        self.calls.append(("ids listed", filters["id"].split(":", 1)[1].split(",")))
        return super().list_images(**filters)


def listings(cloud):
    return cloud.called("ids listed")


def glance(*statuses):
    """Glance with one image in each status, and their ids."""
    cloud = Glance()
    return cloud, [cloud.add_image(status=status) for status in statuses]


def test_one_listing_answers_every_worker_within_the_interval():
    (cloud, (a, b, c)), clock = glance("queued", "queued", "queued"), FakeClock(100.0)
    poll = SharedImagePoll(cloud, 0.5, clock)
    assert [poll.get_image(i)["status"] for i in (a, b, c)] == ["queued"] * 3
    assert len(listings(cloud)) == 3             # each new image is fetched once at first
    clock.now += 1.0
    cloud.images[a]["status"], cloud.images[b]["status"] = "saving", "active"
    assert poll.get_image(a)["status"] == "saving"        # a fresh listing of a, b and c
    assert sorted(listings(cloud)[-1]) == sorted([a, b, c])
    clock.now += 0.1
    assert poll.get_image(b)["status"] == "active" and poll.get_image(c)["status"] == "queued"
    assert len(listings(cloud)) == 4             # b and c were answered by a's listing


def test_a_worker_never_gets_a_listing_older_than_its_own_last_look():
    (cloud, (a, b)), clock = glance("queued", "queued"), FakeClock(100.0)
    poll = SharedImagePoll(cloud, 5.0, clock)
    poll.get_image(a)
    clock.now += 0.1
    poll.get_image(b)                           # lists b and a
    clock.now += 0.1
    cloud.images[a]["status"] = "saving"
    assert poll.get_image(a)["status"] == "queued"        # b's listing came after a's last look
    assert len(listings(cloud)) == 2
    clock.now += 0.1
    assert poll.get_image(a)["status"] == "saving"        # a looked after that listing: anew
    assert len(listings(cloud)) == 3


def test_an_image_glance_no_longer_lists_is_none_like_a_404():
    (cloud, (a,)), clock = glance("queued"), FakeClock(100.0)
    poll = SharedImagePoll(cloud, 0.5, clock)
    assert poll.get_image(a)["status"] == "queued"
    cloud.delete_image(a)
    clock.now += 1
    assert poll.get_image(a) is None


def test_images_no_longer_asked_for_drop_out_of_the_listing():
    (cloud, (a, b)), clock = glance("active", "queued"), FakeClock(100.0)
    poll = SharedImagePoll(cloud, 0.5, clock)
    poll.get_image(a), poll.get_image(b)
    for _ in range(5):
        clock.now += 1
        poll.get_image(b)
    assert listings(cloud)[-1] == [b]


def test_a_listing_holds_at_most_max_ids_and_always_the_one_asked_for():
    cloud, ids = glance(*["queued"] * (MAX_IDS + 10))
    clock = FakeClock(100.0)
    poll = SharedImagePoll(cloud, 0.5, clock)
    for image_id in ids:
        poll.get_image(image_id)
    clock.now += 1
    assert poll.get_image(ids[45])["status"] == "queued"
    assert len(listings(cloud)[-1]) == MAX_IDS and listings(cloud)[-1][0] == ids[45]


def test_other_calls_go_to_the_cloud_and_errors_reach_the_caller():
    cloud = FakeCloud()
    server_id = cloud.add_server()
    cloud.faults["list_images"] = [CloudError("listing images: HTTP 503")]
    poll = SharedImagePoll(cloud, 0.5, FakeClock(100.0))
    assert poll.get_server(server_id)["id"] == server_id
    assert cloud.called("get_server") == [server_id]
    with pytest.raises(CloudError, match="503"):
        poll.get_image(cloud.add_image())


def test_sixteen_workers_at_once_cost_one_listing():
    (cloud, ids), clock = glance(*["queued"] * 16), FakeClock(100.0)
    poll = SharedImagePoll(cloud, 0.5, clock)
    for image_id in ids:
        poll.get_image(image_id)
    clock.now += 1.0
    before = len(listings(cloud))
    barrier = threading.Barrier(16)
    seen = {}       # asserted here: an assertion failing in a thread would not fail the test

    def look(n):
        barrier.wait()
        seen[n] = poll.get_image(ids[n])["status"]

    threads = [threading.Thread(target=look, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {n: "queued" for n in range(16)}
    assert len(listings(cloud)) - before == 1 and len(listings(cloud)[-1]) == 16
