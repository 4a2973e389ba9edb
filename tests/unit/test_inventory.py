import json

import pytest

from nova_snapshot_hook import text, views
from nova_snapshot_hook.rules import inventory
from nova_snapshot_hook.errors import ConfigError

SERVER = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"


def image(ident, created, series="daily", server=SERVER, ours=True, **extra):
    props = {"id": ident, "name": f"web01-{series}-{ident}", "created_at": created,
             "status": "active", "size": 6000, "instance_uuid": server, "image_type": "backup",
             "backup_type": series}
    if ours:
        props.update(nsh_server=server, nsh_series=series, nsh_trigger="manual",
                     nsh_method="createBackup")
    props.update(extra)
    return props


APT = image("a", "2026-11-26T04:06:00Z", series="apt", nsh_trigger="apt",
            nsh_changes="upgrade openssl 3.0.11-1 -> 3.0.11-2", nsh_outcome="succeeded",
            nsh_change_01="upgrade openssl 3.0.11-1->3.0.11-2, libssl3 3.0.11-1->3.0.11-2",
            nsh_change_02="install curl 7.88")


def test_series_is_ours_then_novas_backup_type_then_snapshot():
    assert inventory.series_of(image("a", "1", series="apt")) == "apt"
    assert inventory.series_of({"backup_type": "weekly", "image_type": "backup"}) == "weekly"
    assert inventory.series_of({"image_type": "snapshot"}) == "snapshot"
    assert inventory.series_of({}) == "-"


def inherited_by(kind, parent, **extra):
    """What Nova makes of `parent`'s properties on a later image of a server restored from it."""
    child = {k: v for k, v in parent.items() if k.startswith("nsh_") or k == "backup_type"}
    child.update(id="child", name="someone-elses", created_at="2026-11-27T00:00:00Z",
                 status="active", instance_uuid=SERVER, image_type=kind,
                 base_image_ref=parent["id"], **extra)
    return child


def test_a_snapshot_that_inherited_our_properties_is_not_ours_and_shows_no_apt_facts():
    child = inherited_by("snapshot", APT)
    assert not inventory.made_by_us(child) and not inventory.is_ours(child, SERVER)
    assert inventory.series_of(child) == "snapshot" and views.change_line(child) == ""
    record = inventory.record(child, SERVER)
    assert record["ours"] is False and record["changes"] is None and record["trigger"] is None
    text = "\n".join(views.detail_lines(child, SERVER))
    assert "inherited from base image a" in text and "before " not in text


def test_someone_elses_backup_of_another_type_that_inherited_our_properties_is_not_ours():
    child = inherited_by("backup", APT, backup_type="nightly")
    assert not inventory.made_by_us(child) and inventory.series_of(child) == "nightly"


def test_an_inherited_not_guaranteed_mark_is_not_shown():
    parent = image("p", "1", nsh_capture="not-guaranteed")
    assert views.marks(parent) == "!"
    assert views.marks(inherited_by("snapshot", parent)) == ""


def test_our_backup_of_a_restored_server_shows_no_apt_change_it_did_not_precede():
    # A daily backup of a server rebuilt from an apt backup: Nova copies nsh_changes onto it.
    daily = dict(inherited_by("backup", APT), nsh_series="daily", backup_type="daily",
                 nsh_trigger="schedule", nsh_method="createBackup")
    assert inventory.is_ours(daily, SERVER) and views.change_line(daily) == ""


def test_our_image_is_only_ours_for_the_server_nsh_server_and_instance_uuid_both_name():
    ours = image("o", "1")
    assert inventory.is_ours(ours, SERVER) and not inventory.is_ours(ours, OTHER)
    assert not inventory.is_ours(dict(ours, instance_uuid=OTHER), SERVER)
    assert inventory.is_ours(dict(ours, image_type="snapshot", nsh_method="createImage"), SERVER)


def test_change_line_names_the_change_and_the_apt_runs_outcome():
    assert views.change_line(APT) == ("before: upgrade openssl 3.0.11-1 -> 3.0.11-2 "
                                          "-> succeeded")
    failed = dict(APT, nsh_outcome="failed")
    assert views.change_line(failed).endswith("-> failed")


def test_change_line_says_pending_when_no_outcome_was_recorded_and_points_at_later_changes():
    pending = {k: v for k, v in APT.items() if k != "nsh_outcome"}
    pending["nsh_later_01"] = "upgrade curl 7.88->7.89"
    line = views.change_line(pending)
    assert "-> pending" in line and "later changes" in line


def test_an_image_without_an_apt_change_has_no_change_line():
    assert views.change_line(image("d", "2026-11-26T01:00:00Z")) == ""


def test_numbered_properties_come_in_numeric_order():
    props = {"nsh_change_10": "ten", "nsh_change_02": "two", "nsh_change_01": "one",
             "nsh_changes": "summary", "nsh_change_xx": "not a number"}
    assert inventory.numbered(props, "change") == ["one", "two", "ten"]


def test_list_is_newest_first_with_the_change_under_its_image():
    older = image("d", "2026-11-25T01:00:00Z")
    newer = image("w", "2026-11-27T01:00:00Z", series="weekly")
    lines = views.list_lines([older, APT, newer], SERVER)
    rows = [line for line in lines if "web01-" in line]
    assert [row.split()[-1] for row in rows] == ["web01-weekly-w", "web01-apt-a", "web01-daily-d"]
    at = lines.index(next(line for line in lines if line.endswith("web01-apt-a")))
    assert lines[at + 1].strip() == "before: upgrade openssl 3.0.11-1 -> 3.0.11-2 -> succeeded"
    assert lines[0].split()[:3] == ["CREATED", "(UTC)", "SERIES"]
    assert "2026-11-26 04:06:00" in lines[at] and "5.9 KiB" in lines[at]


def test_protected_and_not_guaranteed_images_are_marked_and_the_marks_explained():
    marked = image("p", "2026-11-26T01:00:00Z", protected=True, nsh_capture="not-guaranteed")
    lines = views.list_lines([marked, image("d", "2026-11-25T01:00:00Z")], SERVER)
    row = next(line for line in lines if line.endswith("web01-daily-p"))
    assert " P! " in row
    assert any(line.startswith("P: protected") for line in lines)
    assert any(line.startswith("!: capture not guaranteed") for line in lines)


def test_no_legend_when_nothing_is_marked():
    lines = views.list_lines([image("d", "2026-11-25T01:00:00Z")], SERVER)
    assert not any(line.startswith(("P:", "!:")) for line in lines)


def test_an_empty_list_says_so():
    assert views.list_lines([], SERVER) == [f"No backup images of server {SERVER}."]


def test_record_gives_scripts_every_fact_the_table_shows():
    record = inventory.record(dict(APT, protected=True, nsh_capture="not-guaranteed"), SERVER)
    assert record["series"] == "apt" and record["ours"] is True and record["protected"] is True
    assert record["capture_guaranteed"] is False and record["outcome"] == "succeeded"
    assert record["change_list"] == [APT["nsh_change_01"], APT["nsh_change_02"]]
    assert json.loads(json.dumps(record)) == record
    assert inventory.record(image("n", "1", ours=False), SERVER)["ours"] is False


@pytest.mark.parametrize("size, words", [(None, "-"), (0, "0 B"), (1023, "1023 B"),
                                        (6000, "5.9 KiB"), (3 * 1024 ** 3, "3.0 GiB")])
def test_sizes_read_like_people_write_them(size, words):
    assert text.human_size(size) == words


@pytest.mark.parametrize("seconds, words", [(5, "5s"), (125, "2m"), (3 * 3600 + 120, "3h 02m"),
                                           (2 * 86400 + 4 * 3600, "2d 04h"), (-3, "0s")])
def test_ages_are_short_and_exact_enough(seconds, words):
    assert text.human_age(seconds) == words


def test_the_table_pads_every_column_but_the_last_and_ends_no_line_in_spaces():
    assert text.table([("a", "bb", "long last"), ("ccc", "", "")], headers=("X", "Y", "Z")) == [
        "X    Y   Z", "a    bb  long last", "ccc"]
    assert text.table([]) == [] and text.table([("k", "v")]) == ["k  v"]


def test_times_parse_with_z_fractions_and_offsets():
    assert inventory.parse_time("2026-11-26T00:00:00Z") == inventory.parse_time(
        "2026-11-26T01:00:00.000+01:00")
    assert inventory.parse_time("not a time") is None and inventory.parse_time(None) is None
    assert text.format_time(inventory.parse_time("2026-11-26T06:14:56Z")) == \
        "2026-11-26 06:14:56"


def test_a_unique_name_is_found_and_an_unknown_one_refused():
    images = [image("a", "1", name="x"), image("b", "2", name="y")]
    assert inventory.pick_by_name(images, "y", SERVER)["id"] == "b"
    with pytest.raises(ConfigError, match="no image named 'z'"):
        inventory.pick_by_name(images, "z", SERVER)


def test_a_shared_name_picks_this_servers_image_or_is_refused_with_the_ids():
    mine, theirs = image("m", "1", name="same"), image("t", "2", name="same", server=OTHER)
    assert inventory.pick_by_name([theirs, mine], "same", SERVER)["id"] == "m"
    with pytest.raises(ConfigError, match=r"2 images are named 'same' \(t, m\)"):
        inventory.pick_by_name([theirs, mine], "same", "another-server")


def test_ids_are_told_from_names():
    assert inventory.looks_like_id(SERVER) and not inventory.looks_like_id("web01-daily")


def test_scrub_masks_credentials_in_urls_and_secret_looking_keys_only():
    safe = inventory.scrub({
        "direct_url": "swift+https://tenant:user:S3cr3t-Key@swift.example/v1/images/x",
        "locations": [{"url": "rbd://fsid/pool/img/snap", "metadata": {"password": "pw"}}],
        "admin_token": "Tok-Value", "os_hash_value": "abc", "nsh_changes": "upgrade a 1 -> 2",
        "key_name": "mine"})
    text = json.dumps(safe)
    assert "S3cr3t-Key" not in text and "Tok-Value" not in text and '"pw"' not in text
    assert safe["direct_url"] == "swift+https://***@swift.example/v1/images/x"
    assert safe["locations"][0]["url"] == "rbd://fsid/pool/img/snap"
    assert safe["os_hash_value"] == "abc" and safe["key_name"] == "mine"
    assert safe["nsh_changes"] == "upgrade a 1 -> 2"


def test_show_lists_every_field_and_property_and_says_what_the_backup_is():
    full = dict(APT, protected=True, custom_property="kept", nsh_later_01="install b 1")
    lines = views.detail_lines(full, SERVER, now=inventory.parse_time("2026-11-26T06:06:00Z"))
    text = "\n".join(lines)
    for key in full:
        assert any(line.split()[:1] == [key] for line in lines), key
    assert "created (UTC)  2026-11-26 04:06:00, 2h 00m ago" in text
    assert f"{SERVER} (this server)" in text
    assert "openstack image set --unprotected a" in text
    assert "apt outcome" in text and "later changes  install b 1" in text


def test_show_marks_a_capture_that_is_not_guaranteed():
    lines = views.detail_lines(image("n", "1", nsh_capture="not-guaranteed"), SERVER)
    assert any("NOT GUARANTEED" in line for line in lines)


def test_attached_volumes_are_warned_about_and_none_means_no_warning():
    server = {"id": SERVER, "image": {"id": "img-1"},
              "os-extended-volumes:volumes_attached": [{"id": "vol-1"}, {"id": "vol-2"}]}
    warning = views.volume_warning(server)
    assert "2 volumes are attached" in warning and "vol-1, vol-2" in warning
    assert "not in the backup images" in warning
    # a volume-backed server (no image): createImage snapshots every volume, nothing to warn
    assert views.volume_warning(dict(server, image="")) is None
    assert views.volume_warning({"id": SERVER,
                                     "os-extended-volumes:volumes_attached": []}) is None
    assert views.volume_warning({"id": SERVER}) is None


def test_list_orders_two_backups_of_one_second_by_our_request_stamp():
    # by name alone web01-daily-z would be listed first
    early = image("z", "2026-11-26T01:00:00Z", nsh_requested="2026-11-26T01:00:00.250000Z")
    late = image("a", "2026-11-26T01:00:00Z", nsh_requested="2026-11-26T01:00:00.750000Z")
    assert [i["id"] for i in inventory.newest_first([early, late])] == ["a", "z"]
    rows = [line.split()[-1] for line in views.list_lines([early, late], SERVER) if "web01-" in line]
    assert rows == ["web01-daily-a", "web01-daily-z"]
    # A stamp the image only inherited (not ours: someone's snapshot) decides nothing.
    theirs = image("b", "2026-11-26T01:00:00Z", image_type="snapshot",
                   nsh_requested="2026-11-26T01:00:00.999999Z")
    assert [i["id"] for i in inventory.newest_first([early, late, theirs])] == ["a", "z", "b"]
