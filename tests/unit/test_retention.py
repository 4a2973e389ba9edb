from nova_snapshot_hook import views
from nova_snapshot_hook.rules import retention
from nova_snapshot_hook.config import Settings

SERVER = "11111111-2222-3333-4444-555555555555"
COUNTS = retention.configured_counts(Settings(daily=2, weekly=0, apt_rotation=3))


def image(ident, minute, series="daily", status="active", server=SERVER, ours=True, **extra):
    data = {"id": ident, "name": f"{series}-{ident}", "status": status, "instance_uuid": server,
            "created_at": f"2026-11-26T01:{minute:02d}:00Z", "backup_type": series}
    if ours:
        data.update(nsh_server=server, nsh_series=series, nsh_method="createBackup")
    data.update(extra)
    return data


def deleted(plans):
    return sorted(image["id"] for image in retention.to_delete(plans))


def test_counts_come_from_apt_rotation_and_the_schedule():
    assert COUNTS["daily"] == (2, "[schedule] daily") and COUNTS["apt"] == (3, "[apt] rotation")
    assert COUNTS["weekly"] == (0, "[schedule] weekly")


def test_each_series_keeps_its_configured_count_of_the_newest_active_images():
    images = [image(f"d{n}", n) for n in range(5)] + [image(f"a{n}", n, "apt") for n in range(4)]
    plans = retention.plan(images, SERVER, COUNTS)
    assert deleted(plans) == ["a0", "d0", "d1", "d2"]


def test_other_series_are_kept_unless_keep_is_given():
    images = [image(f"m{n}", n, "manual") for n in range(3)]
    assert deleted(retention.plan(images, SERVER, COUNTS)) == []
    assert deleted(retention.plan(images, SERVER, COUNTS, keep=1)) == ["m0", "m1"]
    lines = views.prune_lines(retention.plan(images, SERVER, COUNTS))
    assert lines == ["Series manual: 3 active; no count configured, all kept (give --keep N)."]


def test_keep_does_not_override_a_configured_count():
    images = [image(f"d{n}", n) for n in range(3)]
    assert deleted(retention.plan(images, SERVER, COUNTS, keep=1)) == ["d0"]


def test_a_tier_switched_off_still_keeps_its_newest_image():
    images = [image(f"w{n}", n, "weekly") for n in range(3)]
    plans = retention.plan(images, SERVER, COUNTS)
    assert deleted(plans) == ["w0", "w1"]
    assert "keep 1 ([schedule] weekly = 0 (0 means off; at least one is kept))" in \
        views.prune_lines(plans)[0]


def test_only_active_images_count_and_others_are_never_deleted():
    images = [image("new", 9, status="saving"), image("q", 8, status="queued"),
              image("d2", 3), image("d1", 2), image("d0", 1), image("k", 0, status="killed")]
    plans = retention.plan(images, SERVER, COUNTS)
    assert deleted(plans) == ["d0"]
    assert "3 active, 3 in another status (left alone): delete 1." in views.prune_lines(plans)[0]


def test_a_protected_image_keeps_its_slot_and_is_never_deleted():
    images = [image("d3", 3), image("d2", 2, protected=True), image("d1", 1), image("d0", 0)]
    plans = retention.plan(images, SERVER, COUNTS)
    assert deleted(plans) == ["d0", "d1"]
    assert any(line.startswith("  protected, kept") and "(d2)" in line
               for line in views.prune_lines(plans))


def test_images_that_are_not_ours_or_of_another_server_are_never_touched():
    images = [image("d2", 2), image("d1", 1), image("d0", 0),
              image("nova", 0, ours=False),
              image("x", 0, server="another-server")]
    assert deleted(retention.plan(images, SERVER, COUNTS)) == ["d0"]


def test_series_can_be_limited():
    images = [image(f"d{n}", n) for n in range(4)] + [image(f"a{n}", n, "apt") for n in range(5)]
    assert deleted(retention.plan(images, SERVER, COUNTS, only=("apt",))) == ["a0", "a1"]


def test_the_plan_lists_what_goes_with_its_date_name_and_id():
    plans = retention.plan([image("d2", 2), image("d1", 1), image("d0", 0)], SERVER, COUNTS)
    lines = views.prune_lines(plans)
    assert lines[0] == "Series daily: keep 2 ([schedule] daily = 2); 3 active: delete 1."
    assert lines[1] == "  delete  2026-11-26 01:00:00  daily-d0 (d0)"
    assert views.prune_lines([]) == ["No images of ours for this server."]


def test_a_snapshot_that_inherited_our_properties_after_a_restore_is_never_pruned():
    # Someone's snapshot of a server rebuilt from backup d0: Nova copied d0's nsh_ properties.
    images = [image("theirs", 9, image_type="snapshot"), image("d2", 2, image_type="backup"),
              image("d1", 1, image_type="backup"), image("d0", 0, image_type="backup")]
    assert deleted(retention.plan(images, SERVER, COUNTS)) == ["d0"]


def test_two_backups_of_one_second_are_pruned_by_our_request_stamp_not_by_name():
    # Glance's created_at has whole seconds; by name alone "daily-z" would count as the newer.
    images = [image("new", 5, nsh_requested="2026-11-26T01:05:00.200000Z"),
              image("z", 3, nsh_requested="2026-11-26T01:03:00.100000Z"),
              image("a", 3, nsh_requested="2026-11-26T01:03:00.900000Z")]
    plans = retention.plan(images, SERVER, COUNTS)
    assert deleted(plans) == ["z"]
    assert [i["id"] for i in plans[0].active] == ["new", "a", "z"]
    # The newest of one second is the one kept when the series keeps only one (--keep 1).
    alone = [dict(i, nsh_series="manual", backup_type="manual") for i in images[1:]]
    assert deleted(retention.plan(alone, SERVER, COUNTS, keep=1)) == ["z"]


def test_a_backup_without_a_stamp_is_the_older_of_its_second():
    # made by a version before nsh_requested, in the same second as one of ours
    images = [image("new", 5), image("b", 3),
              image("a", 3, nsh_requested="2026-11-26T01:03:00.000000Z")]
    assert deleted(retention.plan(images, SERVER, COUNTS)) == ["b"]
    # Two without a stamp keep the order they had before it: by name.
    del images[2]["nsh_requested"]
    assert deleted(retention.plan(images, SERVER, COUNTS)) == ["a"]
