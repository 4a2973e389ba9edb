import pytest

from nova_snapshot_hook.rules import naming

NOW = 1795665960  # 2026-11-26T04:06:00Z


def test_name_has_short_host_series_and_utc_minute():
    assert naming.image_name("web01.example.org", "apt", NOW) == "web01-apt-20261126T0406Z"


def test_name_carries_the_change_with_unsafe_characters_folded():
    name = naming.image_name("web01", "apt", NOW, "upgrade openssl 3.0.11-1~deb12u2 and 3 more")
    assert name == "web01-apt-20261126T0406Z-upgrade-openssl-3.0.11-1~deb12u2-and-3-more"


def test_name_is_cut_to_255_characters_without_a_trailing_dash():
    name = naming.image_name("h", "apt", NOW, "x-" * 400)
    assert len(name) <= 255 and not name.endswith("-")
    assert name.startswith("h-apt-20261126T0406Z-")


def test_safe_part_keeps_only_glance_and_shell_friendly_characters():
    assert naming.safe_part("a b/c;$(rm)`x`é+1:2") == "a-b-c-rm-x-+1-2"


def test_empty_hostname_still_gives_a_host_part():
    assert naming.short_host("...") == "host"


def test_series_check_accepts_words_and_rejects_odd_ones():
    assert naming.check_series("daily") is None
    assert naming.check_series("apt_2") is None
    assert naming.check_series("") is not None
    assert naming.check_series("Daily") is not None
    assert naming.check_series("a b") is not None
    assert naming.check_series("-x") is not None
    assert naming.check_series("x" * 65) is not None


def test_own_properties_mark_server_and_series():
    props = naming.own_properties("srv", "daily", "web01.example.org", "manual", "createBackup")
    assert props["nsh_server"] == "srv" and props["nsh_series"] == "daily"
    assert props["nsh_host"] == "web01" and props["nsh_trigger"] == "manual"
    assert naming.is_ours(props, "srv", "daily")
    assert not naming.is_ours(props, "other", "daily")
    assert not naming.is_ours(props, "srv", "weekly")


def test_property_values_are_cut_to_novas_limit():
    assert len(naming.clean_properties({"k": "v" * 300})["k"]) == 255


# Every character apt allows: package names [a-z0-9+.-], versions [A-Za-z0-9.+~:-] (epochs too).
from hypothesis import given, settings, strategies as st  # noqa: E402

NAMES = st.from_regex(r"[a-z0-9][a-z0-9+.\-]{1,80}", fullmatch=True)
VERSIONS = st.from_regex(r"([0-9]{1,3}:)?[0-9][A-Za-z0-9.+~\-]{0,60}", fullmatch=True)
ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+~_-")


@settings(max_examples=500, deadline=None, derandomize=True)
@given(host=st.text(min_size=0, max_size=300), name=NAMES, version=VERSIONS)
def test_any_package_name_and_version_give_a_safe_name_within_255(host, name, version):
    image = naming.image_name(host, "apt", NOW, f"upgrade {name} {version} and 12 more")
    assert 0 < len(image) <= 255 and set(image) <= ALLOWED
    assert "-apt-20261126T0406Z" in image
    properties = naming.clean_properties({"nsh_changes": f"upgrade {name} 1:0 -> {version}" * 5})
    assert len(properties["nsh_changes"]) <= 255


def test_an_image_that_inherited_our_properties_is_not_ours():
    ours = dict(naming.own_properties("srv", "daily", "web01", "schedule", "createBackup",
                                      "web01-daily-20261126T0101Z"),
                name="web01-daily-20261126T0101Z", image_type="backup", backup_type="daily",
                instance_uuid="srv")
    assert naming.made_by_us(ours) and naming.is_ours(ours, "srv", "daily")
    # Someone's snapshot of the server after it was rebuilt from that backup: Nova copied
    # every property, but the image has its own name.
    theirs = dict(ours, name="before-my-change", image_type="snapshot")
    assert not naming.made_by_us(theirs) and not naming.is_ours(theirs, "srv")
    # Nova's own kind must agree with how we made it.
    assert not naming.made_by_us(dict(ours, image_type="snapshot"))
    assert not naming.made_by_us(dict(ours, backup_type="weekly"))


def test_the_request_stamp_is_utc_to_the_microsecond_and_sorts_as_the_time_does():
    assert naming.requested_stamp(NOW) == "2026-11-26T04:06:00.000000Z"
    times = [NOW + 0.000001, NOW + 0.1, NOW + 0.999999, NOW + 1, NOW + 86400 * 400 + 0.5]
    stamps = [naming.requested_stamp(t) for t in times]
    assert stamps == sorted(stamps) and len(set(map(len, stamps))) == 1
    assert naming.requested_stamp(1796663138.123456) == "2026-12-07T17:05:38.123456Z"


def test_own_properties_carry_the_request_time_only_when_given():
    assert "nsh_requested" not in naming.own_properties("srv", "daily", "web01", "manual",
                                                        "createBackup")
    props = naming.own_properties("srv", "daily", "web01", "manual", "createBackup", now=NOW + 0.5)
    assert props["nsh_requested"] == naming.requested_stamp(NOW + 0.5)
    assert len(props["nsh_requested"]) <= naming.MAX_PROPERTY_VALUE


def test_the_age_order_is_created_at_then_our_stamp():
    ours = dict(naming.own_properties("srv", "daily", "web01", "schedule", "createBackup",
                                      "web01-daily-x", now=NOW),
                name="web01-daily-x", image_type="backup", backup_type="daily",
                created_at="2026-11-26T04:06:00Z")
    assert naming.age_order(ours) == ("2026-11-26T04:06:00Z", naming.requested_stamp(NOW))
    assert naming.age_order(dict(ours, nsh_requested="tomorrow")) == ("2026-11-26T04:06:00Z", "")
    inherited = dict(ours, name="someone-else", image_type="snapshot")
    assert naming.age_order(inherited) == ("2026-11-26T04:06:00Z", "")
    assert naming.age_order({}) == ("", "")


@pytest.mark.parametrize("answer", [None, [], {}, {"id": None}, {"id": "../../volumes/x"},
                                    {"id": "web01"}])
def test_an_answer_without_a_uuid_is_one_line_naming_the_request(answer):
    from nova_snapshot_hook.errors import CloudError
    with pytest.raises(CloudError, match=r"^creating server n was accepted, but the answer "
                                         r"named no server id \("):
        naming.answered_id(answer, "id", "server id", "creating server n", fix="look")
    uuid = "0b1e8c2a-0d1f-4e55-9a3b-7c2d4e6f8a10"
    assert naming.answered_id({"id": uuid}, "id", "server id", "r", fix="f") == uuid
