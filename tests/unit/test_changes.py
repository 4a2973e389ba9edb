"""From apt's action lines to the change set a snapshot precedes."""

import io
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from nova_snapshot_hook.apt.stream import parse_stream, read_stream
from nova_snapshot_hook.apt.changes import Change, ChangeSet, build_changes, classify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apt-hook"
GENERATED = settings(deadline=None, derandomize=True, max_examples=200)

# (kind, name, arch, old version, new version, display name), in dpkg's order.
EXPECTED = {
    "bookworm-install-and-upgrade.txt": [
        ("install", "less", "amd64", None, "590-2.1~deb12u2", "less"),
        ("upgrade", "hello-snap", "all", "1.0-1", "2.0-1", "hello-snap")],
    "bookworm-install-new.txt": [("install", "hello-snap", "all", None, "1.0-1", "hello-snap")],
    "bookworm-purge.txt": [("remove", "hello-snap", "all", "2.0-1", None, "hello-snap")],
    "bookworm-remove.txt": [("remove", "less", "amd64", "590-2.1~deb12u2", None, "less")],
    "bookworm-unattended-upgrades-step.txt": [
        ("upgrade", "acc-c", "all", "1.0-1", "2.0-1", "acc-c")],
}


def fixture_changes(name):
    stream = read_stream(io.BytesIO((FIXTURES / name).read_bytes()))
    return build_changes(stream.action_lines.parse(), stream.config.get("APT::Architecture"))


def changes_of(*lines, native="amd64", version=3):
    data = b"VERSION %d\nAPT::Architecture=amd64\n\n" % version
    stream = parse_stream(data + b"".join(line.encode() + b"\n" for line in lines))
    return build_changes(stream.action_lines.parse(), native)


def test_every_fixture_has_an_expected_change_set():
    assert sorted(p.name for p in FIXTURES.glob("*.txt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_captured_stream_gives_exactly_the_expected_changes(name):
    change_set = fixture_changes(name)
    assert list(change_set.changes) == EXPECTED[name]
    assert change_set.configure_only == () and change_set.errors == ()
    assert not change_set.is_empty


def test_captured_install_and_upgrade_summary_and_listing():
    change_set = fixture_changes("bookworm-install-and-upgrade.txt")
    assert change_set.summary() == "install less 590-2.1~deb12u2 and 1 more"
    assert change_set.summary(first=change_set.changes[1]) == \
        "upgrade hello-snap 1.0-1 -> 2.0-1 and 1 more"
    assert change_set.summary(first=change_set.changes[1], old_versions=False) == \
        "upgrade hello-snap 2.0-1 and 1 more"
    assert change_set.listing() == "upgrade hello-snap 1.0-1->2.0-1; install less 590-2.1~deb12u2"


def test_expected_versions_say_what_dpkg_should_leave_with_architectures():
    change_set = changes_of("less 590-2 amd64 foreign < 590-3 amd64 foreign /x/less.deb",
                            "hello 2.10-3 amd64 none > - - none **REMOVE**",
                            "new - - none < 1.0 all none /x/new.deb",
                            "conf 1.0 all none = 1.0 all none **CONFIGURE**")
    assert change_set.expected_versions() == {"less:amd64": "590-3", "hello:amd64": "-",
                                              "new:all": "1.0"}
    v2 = changes_of("libc6 2.36-9 < 2.36-9+deb12u3 /x/libc6.deb", version=2)
    assert v2.expected_versions() == {"libc6": "2.36-9+deb12u3"}


def test_purge_reads_as_a_removal():
    assert fixture_changes("bookworm-purge.txt").summary() == "remove hello-snap 2.0-1"


def test_unpack_and_its_configure_line_are_one_change():
    change_set = changes_of("foo 1.0 all none < 2.0 all none /tmp/foo_2.0_all.deb",
                            "foo 1.0 all none < 2.0 all none **CONFIGURE**")
    assert list(change_set.changes) == [("upgrade", "foo", "all", "1.0", "2.0", "foo")]
    assert change_set.configure_only == ()


def test_configure_line_before_its_unpack_line_still_pairs_with_it():
    change_set = changes_of("foo 1.0 all none < 2.0 all none **CONFIGURE**",
                            "foo 1.0 all none < 2.0 all none /tmp/foo_2.0_all.deb")
    assert len(change_set) == 1 and change_set.configure_only == ()


def test_configure_only_run_is_no_real_change():
    change_set = changes_of("foo 2.0 amd64 same = 2.0 amd64 same **CONFIGURE**",
                            "bar 1.0 all none = 1.0 all none **CONFIGURE**")
    assert change_set.is_empty and len(change_set) == 0
    assert change_set.configure_only == ("foo", "bar")
    assert change_set.summary() == "configure foo, bar"


def test_empty_action_list_is_no_real_change():
    change_set = changes_of()
    assert change_set.is_empty
    assert change_set.summary() == "no package changes"
    assert change_set.listing() == "" and change_set.listing_chunks(255) == []


@pytest.mark.parametrize("line, expected", [
    ("foo - - none < 1.0 all none /tmp/foo.deb", ("install", None, "1.0")),
    ("foo 1.0 all none < 2.0 all none /tmp/foo.deb", ("upgrade", "1.0", "2.0")),
    ("foo 2.0 all none > 1.0 all none /tmp/foo.deb", ("downgrade", "2.0", "1.0")),
    ("foo 1.0 all none = 1.0 all none /tmp/foo.deb", ("reinstall", "1.0", "1.0")),
    ("foo 1.0 all none > - - none **REMOVE**", ("remove", "1.0", None)),
])
def test_kind_follows_the_versions_and_the_direction(line, expected):
    (change,) = changes_of(line).changes
    assert (change.kind, change.old_version, change.new_version) == expected


@pytest.mark.parametrize("change, text", [
    (Change("install", "a", "all", None, "1", "a"), "install a 1"),
    (Change("upgrade", "a", "all", "1", "2", "a"), "upgrade a 1 -> 2"),
    (Change("downgrade", "a", "all", "2", "1", "a"), "downgrade a 2 -> 1"),
    (Change("reinstall", "a", "all", "1", "1", "a"), "reinstall a 1"),
    (Change("remove", "a", "all", "1", None, "a"), "remove a 1"),
])
def test_each_kind_is_described_with_its_versions(change, text):
    assert change.describe() == text


def test_removal_then_unpack_of_the_same_package_is_one_change():
    change_set = changes_of("foo 1.0 all none < 2.0 all none **REMOVE**",
                            "foo 1.0 all none < 2.0 all none /tmp/foo_2.0_all.deb",
                            "foo 1.0 all none < 2.0 all none **CONFIGURE**")
    assert list(change_set.changes) == [("upgrade", "foo", "all", "1.0", "2.0", "foo")]


def test_multiarch_pair_is_two_changes_named_with_their_architectures():
    change_set = changes_of(
        "libc6 2.36-9 amd64 same < 2.36-9+deb12u3 amd64 same /x/libc6_2.36-9+deb12u3_amd64.deb",
        "libc6 2.36-9 i386 same < 2.36-9+deb12u3 i386 same /x/libc6_2.36-9+deb12u3_i386.deb",
        "libc6 2.36-9 amd64 same < 2.36-9+deb12u3 amd64 same **CONFIGURE**",
        "libc6 2.36-9 i386 same < 2.36-9+deb12u3 i386 same **CONFIGURE**")
    assert [c.display_name for c in change_set] == ["libc6:amd64", "libc6:i386"]
    assert change_set.configure_only == ()
    assert change_set.listing() == ("upgrade libc6:amd64 2.36-9->2.36-9+deb12u3,"
                                    " libc6:i386 2.36-9->2.36-9+deb12u3")


def test_lone_foreign_architecture_is_named_and_native_or_all_is_not():
    change_set = changes_of("libfoo 1 i386 same < 2 i386 same /x/libfoo_2_i386.deb",
                            "bar 1 amd64 none < 2 amd64 none /x/bar_2_amd64.deb",
                            "doc 1 all none < 2 all none /x/doc_2_all.deb")
    assert [c.display_name for c in change_set] == ["libfoo:i386", "bar", "doc"]


def test_without_the_native_architecture_only_ambiguous_names_carry_it():
    change_set = changes_of("libfoo 1 i386 same < 2 i386 same /x/libfoo_2_i386.deb", native=None)
    assert [c.display_name for c in change_set] == ["libfoo"]


def test_error_line_counts_as_a_change_and_is_reported():
    change_set = changes_of("foo 1.0 amd64 none < 2.0 amd64 none **ERROR**",
                            "foo 1.0 amd64 none < 2.0 amd64 none **CONFIGURE**")
    assert list(change_set.changes) == [("upgrade", "foo", "amd64", "1.0", "2.0", "foo")]
    assert change_set.errors == ("foo",)


def test_version_2_stream_pairs_configure_lines_by_name():
    change_set = changes_of("foo 1.0 < 2.0 /tmp/foo_2.0_amd64.deb", "foo 1.0 < 2.0 **CONFIGURE**",
                            "bar 3 > - **REMOVE**", version=2)
    assert list(change_set.changes) == [("upgrade", "foo", None, "1.0", "2.0", "foo"),
                                        ("remove", "bar", None, "3", None, "bar")]


def test_listing_groups_by_kind_in_a_fixed_order():
    change_set = changes_of("r 1 all none > - - none **REMOVE**",
                            "i - - none < 1 all none /x/i.deb",
                            "u 1 all none < 2 all none /x/u.deb",
                            "d 2 all none > 1 all none /x/d.deb",
                            "s 1 all none = 1 all none /x/s.deb")
    assert change_set.listing() == "upgrade u 1->2; downgrade d 2->1; install i 1; reinstall s 1;" \
                                   " remove r 1"
    assert [c.name for c in change_set.of_kind("remove")] == ["r"]


def test_listing_chunks_fit_an_image_property_and_each_reads_alone():
    lines = [f"package-number-{i} 1.0-{i} amd64 none < 1:2.0-{i}~deb12u1 amd64 none /x/{i}.deb"
             for i in range(60)] + ["gone 1 all none > - - none **REMOVE**"]
    change_set = changes_of(*lines)
    chunks = change_set.listing_chunks(limit=255)
    assert len(chunks) > 1 and all(len(chunk) <= 255 for chunk in chunks)
    assert all(chunk.startswith(("upgrade ", "remove ")) for chunk in chunks)
    items = [item for chunk in chunks for item in chunk.split(" ", 1)[1].split(", ")]
    assert items == [c.item() for c in change_set]


def test_classify_needs_no_version_comparison():
    assert classify("1:1.0", "<", "0.9") == "upgrade"  # apt already compared: trust its flag
    assert classify(None, "<", "1") == "install" and classify("1", ">", None) == "remove"


# --- generated action lists ---

versions = st.from_regex(r"\A([0-9]{1,2}:)?[0-9][0-9A-Za-z.+~]{0,10}(-[0-9A-Za-z.+~]{1,6})?\Z")
architectures = st.sampled_from(["amd64", "i386", "arm64", "armhf", "s390x"])


@GENERATED
@given(old=versions, new=versions, direction=st.sampled_from("<>="), arch=architectures)
def test_epochs_and_tildes_pass_through_unchanged(old, new, direction, arch):
    deb = f"/var/cache/apt/archives/foo_{new.replace(':', '%3a')}_{arch}.deb"
    change_set = changes_of(f"foo {old} {arch} same {direction} {new} {arch} same {deb}",
                            f"foo {old} {arch} same {direction} {new} {arch} same **CONFIGURE**",
                            native=arch)
    (change,) = change_set.changes
    assert (change.old_version, change.new_version) == (old, new)
    assert change.kind == {"<": "upgrade", ">": "downgrade", "=": "reinstall"}[direction]
    assert change_set.summary().endswith(new)


@GENERATED
@given(arches=st.lists(architectures, min_size=1, max_size=4, unique=True), data=st.data())
def test_multiarch_siblings_stay_apart_whatever_the_configure_order(arches, data):
    unpacks = [f"libx 1 {a} same < 2 {a} same /x/libx_2_{a}.deb" for a in arches]
    configures = data.draw(st.permutations(
        [f"libx 1 {a} same < 2 {a} same **CONFIGURE**" for a in arches]))
    change_set = changes_of(*unpacks, *configures, native=None)
    assert [c.arch for c in change_set] == arches
    expected = [f"libx:{a}" for a in arches] if len(arches) > 1 else ["libx"]
    assert [c.display_name for c in change_set] == expected
    assert change_set.configure_only == ()


line_templates = {
    "unpack": "{n} 1 {a} same < 2 {a} same /x/{n}.deb",
    "configure": "{n} 1 {a} same < 2 {a} same **CONFIGURE**",
    "remove": "{n} 1 {a} same > - - none **REMOVE**",
    "error": "{n} 1 {a} same < 2 {a} same **ERROR**",
}


@GENERATED
@given(steps=st.lists(st.tuples(st.sampled_from(["p", "q", "r"]),
                                st.sampled_from(["amd64", "i386"]),
                                st.sampled_from(sorted(line_templates))), max_size=30))
def test_one_change_per_package_that_is_unpacked_or_removed(steps):
    lines = [line_templates[kind].format(n=name, a=arch) for name, arch, kind in steps]
    change_set = changes_of(*lines)
    changed = list(dict.fromkeys((n, a) for n, a, kind in steps if kind != "configure"))
    only_configured = {(n, a) for n, a, kind in steps} - set(changed)
    assert [(c.name, c.arch) for c in change_set] == changed
    assert len(change_set.configure_only) == len(only_configured)
    assert change_set.is_empty == (not changed)
    assert isinstance(change_set, ChangeSet) and "\n" not in change_set.listing()
