from nova_snapshot_hook.apt import post_invoke as outcome


def test_pending_file_lists_the_image_and_what_dpkg_should_leave():
    image, expected = outcome.parse_pending("image abc\nless:amd64 590-2\nold:all -\n")
    assert image == "abc" and expected == {"less:amd64": "590-2", "old:all": "-"}


def test_outcome_succeeds_only_when_every_package_is_where_apt_meant_it():
    expected = {"less:amd64": "590-2", "old:all": "-"}
    assert outcome.outcome(expected, {"less:amd64": "590-2"}) == "succeeded"
    assert outcome.outcome(expected, {"less:amd64": "590-1"}) == "failed"
    assert outcome.outcome(expected, {}) == "failed"
    assert outcome.outcome(expected, {"less:amd64": "590-2", "old:all": "1"}) == "failed"


def test_later_changes_continue_the_numbering_within_the_cap():
    image, chunks = outcome.parse_later("image abc\nchanges install b 1\nchanges remove c 2\n")
    assert image == "abc" and chunks == ["install b 1", "remove c 2"]
    assert outcome.later_properties({"nsh_later_01": "x"}, chunks) == {
        "nsh_later_02": "install b 1", "nsh_later_03": "remove c 2"}
    full = {f"nsh_later_{n:02d}": "x" for n in range(1, outcome.MAX_CHANGE_PROPERTIES + 1)}
    assert outcome.later_properties(full, chunks) == {}


def test_unreadable_later_file_is_ignored():
    assert outcome.parse_later("garbage") == (None, [])
