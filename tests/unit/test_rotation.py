import pytest

from nova_snapshot_hook.rules.rotation import select_for_rotation

SERVER, SERIES = "srv-1", "daily"


def image(ident, created, status="active", server=SERVER, series=SERIES, **extra):
    return dict(id=ident, created_at=created, status=status, nsh_server=server, nsh_series=series,
                instance_uuid=server, **extra)


def ids(images):
    return [i["id"] for i in images]


def test_keeps_the_newest_active_images_and_deletes_the_rest():
    images = [image("new", "2026-11-26T04:00:03Z"), image("b", "2026-11-26T04:00:02Z"),
              image("a", "2026-11-26T04:00:01Z")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 2, "new")) == ["a"]


def test_a_new_image_still_uploading_takes_no_slot():
    # Only what `keep` newer successes allow goes: b stays as the one kept.
    images = [image("new", "3", status="saving"), image("b", "2"), image("a", "1")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 1, "new")) == ["a"]
    images = [image("new", "3", status="queued"), image("b", "2"), image("a", "1")]
    assert select_for_rotation(images, SERVER, SERIES, 2, "new") == []


def test_the_last_success_stays_while_the_new_image_uploads():
    images = [image("new", "2", status="saving"), image("a", "1")]
    assert select_for_rotation(images, SERVER, SERIES, 1, "new") == []


def test_only_active_images_count_so_failed_leftovers_push_nothing_out():
    images = [image("new", "4"), image("q", "3", status="queued"), image("k", "2", status="killed"),
              image("a", "1")]
    assert select_for_rotation(images, SERVER, SERIES, 2, "new") == []


def test_other_servers_series_and_foreign_images_are_never_touched():
    images = [image("new", "5"), image("x", "4", server="other"), image("y", "3", series="weekly"),
              {"id": "z", "created_at": "2", "status": "active"}, image("a", "1")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 1, "new")) == ["a"]


def test_never_keeps_fewer_than_one_and_never_deletes_the_new_image():
    images = [image("new", "2"), image("a", "1")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 0, "new")) == ["a"]
    # Even if the clock made the new image look older, it stays.
    images = [image("a", "9"), image("new", "1")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 1, "new")) == []


def test_a_protected_image_keeps_its_slot_but_is_not_deleted():
    images = [image("new", "3"), image("p", "2", protected=True), image("a", "1")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 1, "new")) == ["a"]


# -- two backups of one second (issue 23) ------------------------------------------------------
SECOND = "2026-12-07T17:05:38Z"          # Glance's created_at has whole seconds


def stamped(ident, created, requested, **extra):
    return image(ident, created, nsh_requested=requested, **extra)


@pytest.mark.parametrize("listed", ["older first", "newer first"])
def test_two_backups_of_one_second_are_ordered_by_our_request_stamp(listed):
    older = stamped("older", SECOND, "2026-12-07T17:05:38.104000Z")
    newer = stamped("newer", SECOND, "2026-12-07T17:05:38.907311Z")
    pair = [older, newer] if listed == "older first" else [newer, older]
    images = [stamped("new", "2026-12-07T17:05:39Z", "2026-12-07T17:05:39.020000Z"), *pair]
    assert ids(select_for_rotation(images, SERVER, SERIES, 2, "new")) == ["older"]


def test_within_one_second_microseconds_decide_and_the_new_image_is_never_cut():
    images = [stamped(f"i{n}", SECOND, f"2026-12-07T17:05:38.00000{n}Z") for n in (3, 1, 4, 2)]
    images.append(stamped("new", SECOND, "2026-12-07T17:05:38.000005Z"))
    assert ids(select_for_rotation(images, SERVER, SERIES, 2, "new")) == ["i3", "i2", "i1"]
    # Even a stamp that a clock stepped back made older: the new image is the newest of its
    # second, as before the stamp.
    images[-1]["nsh_requested"] = "2026-12-07T17:05:38.000000Z"
    assert ids(select_for_rotation(images, SERVER, SERIES, 2, "new")) == ["i3", "i2", "i1"]


def test_an_image_without_a_stamp_is_the_oldest_of_its_second_and_other_seconds_go_first():
    # made by an older version: no nsh_requested
    images = [stamped("new", "2026-12-07T17:05:40Z", "2026-12-07T17:05:40.000001Z"),
              image("old", SECOND), stamped("stamped", SECOND, "2026-12-07T17:05:38.000001Z"),
              stamped("earlier", "2026-12-07T17:05:37Z", "2026-12-07T17:05:37.999999Z")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 2, "new")) == ["old", "earlier"]


@pytest.mark.parametrize("stamp", ["garbage", "2026-12-07T17:05:38Z", 7, None,
                                   "2026-12-07T17:05:38.1234567Z", "９９９９-12-07T17:05:38.000000Z"])
def test_a_stamp_that_is_not_ours_counts_as_none(stamp):
    images = [stamped("new", "2026-12-07T17:05:40Z", "2026-12-07T17:05:40.000001Z"),
              stamped("odd", SECOND, stamp), stamped("good", SECOND, "2026-12-07T17:05:38.000000Z")]
    assert ids(select_for_rotation(images, SERVER, SERIES, 2, "new")) == ["odd"]
