"""apt's Pre-Install-Pkgs stream: real apt 2.6 captures and generated streams."""

import io
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from nova_snapshot_hook.apt import stream as apt_stream
from nova_snapshot_hook.apt.stream import (Action, ActionLines, AptConfig, StreamError, parse_bool,
                                           parse_stream, read_stream)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apt-hook"
FIXTURE_FILES = sorted(FIXTURES.glob("*.txt"))
GENERATED = settings(deadline=None, derandomize=True, max_examples=200)
VERSION_KEY = 'DPkg::Tools::Options::/usr/sbin/nova-snapshot-hook::Version "3"'


def apt_quote(raw, key=False):
    """What apt's QuoteString writes: %xx for %, bytes <= 0x20 and >= 0x7f, and in keys = " \\n."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    special = b'%="\n' if key else b"%"
    return b"".join(b"%%%02x" % byte if byte <= 0x20 or byte >= 0x7F or byte in special
                    else bytes([byte]) for byte in raw)


def make_stream(config=(), actions=(), version=3):
    """A stream as apt writes it; config is (key, value) pairs (str or bytes), quoted here."""
    lines = [b"VERSION %d" % version, b"APT::Architecture=amd64"]
    lines += [apt_quote(key, key=True) + b"=" + apt_quote(value) for key, value in config]
    body = b"\n".join(lines) + b"\n\n"
    return body + b"".join(line.encode() + b"\n" for line in actions)


def fixture_action_lines(path):
    return path.read_bytes().partition(b"\n\n")[2].splitlines()


def actions_of(data):
    """Both steps: the stream's config, then its action lines parsed."""
    return parse_stream(data).action_lines.parse()


def raised(function, *args, **kwargs):
    """The message of the StreamError that ``function`` raises (it must raise one)."""
    with pytest.raises(StreamError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


def test_fixtures_are_present():
    assert len(FIXTURE_FILES) >= 5, f"no apt-hook fixtures under {FIXTURES}"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_captured_stream_parses_cleanly_with_one_action_per_line(path):
    stream = read_stream(io.BytesIO(path.read_bytes()))
    assert stream.version == 3
    assert stream.size == path.stat().st_size
    assert len(stream.action_lines.parse()) == len(fixture_action_lines(path))
    assert stream.config.get("APT::Architecture") == "amd64"


def test_captured_install_and_upgrade_gives_exact_action_lines():
    stream = read_stream(io.BytesIO((FIXTURES / "bookworm-install-and-upgrade.txt").read_bytes()))
    deb = "/var/cache/apt/archives/less_590-2.1~deb12u2_amd64.deb"
    first_action_line = 110  # VERSION, 107 config lines, one blank line
    assert stream.action_lines.parse() == (
        Action("less", None, None, "none", "<", "590-2.1~deb12u2", "amd64", "foreign", deb,
               first_action_line),
        Action("hello-snap", "1.0-1", "all", "none", "<", "2.0-1", "all", "none",
               "/tmp/hello-snap_2.0-1_all.deb", first_action_line + 1),
        Action("less", None, None, "none", "<", "590-2.1~deb12u2", "amd64", "foreign",
               "**CONFIGURE**", first_action_line + 2),
        Action("hello-snap", "1.0-1", "all", "none", "<", "2.0-1", "all", "none",
               "**CONFIGURE**", first_action_line + 3),
    )


def test_captured_removal_has_no_new_version():
    stream = read_stream(io.BytesIO((FIXTURES / "bookworm-remove.txt").read_bytes()))
    (action,) = stream.action_lines.parse()
    assert (action.name, action.old_version, action.direction, action.new_version,
            action.action) == ("less", "590-2.1~deb12u2", ">", None, "**REMOVE**")


def test_command_line_key_is_found_whatever_its_case():
    unattended = read_stream(io.BytesIO(
        (FIXTURES / "bookworm-unattended-upgrades-step.txt").read_bytes())).config
    apt_get = read_stream(io.BytesIO((FIXTURES / "bookworm-remove.txt").read_bytes())).config
    assert unattended.get("CommandLine::AsString") == "/usr/bin/unattended-upgrade -v"
    assert apt_get.get("commandline::asstring") == "apt-get remove -y -q less"
    assert "COMMANDLINE::ASSTRING" in unattended


def test_list_items_are_collected_in_order_under_their_parent_key():
    config = read_stream(io.BytesIO(
        (FIXTURES / "bookworm-unattended-upgrades-step.txt").read_bytes())).config
    hooks = config.get_list("dpkg::pre-install-pkgs")
    assert hooks == ["/usr/bin/apt-listchanges --apt || test $? -lt 10",
                     "/usr/sbin/dpkg-preconfigure --apt || true",
                     "/usr/local/bin/dumphook"] * 2
    assert config.get("DPkg::Pre-Install-Pkgs") is None


def test_value_keeps_equals_signs_after_the_first():
    config = read_stream(io.BytesIO((FIXTURES / "bookworm-install-new.txt").read_bytes())).config
    assert config.get_list("APT::Compressor::lzma::CompressArg") == ["--suffix=", "-6"]


def test_percent_escapes_in_a_captured_value_are_decoded():
    config = read_stream(io.BytesIO((FIXTURES / "bookworm-purge.txt").read_bytes())).config
    assert config.get("Acquire::IndexTargets::deb::Packages::flatDescription") == \
        "$(RELEASE) Packages"
    assert config.get("APT::Get::Purge") == "1"


def test_escaped_equals_sign_and_quote_stay_inside_the_key():
    stream = parse_stream(make_stream([('Odd::"Key"=x', "v=1")]))
    assert stream.config.get('odd::"key"=x') == "v=1"


def test_uppercase_hex_escapes_are_accepted():
    stream = parse_stream(b"VERSION 3\nA::B=one%2Ftwo%20three\n\n")
    assert stream.config.get("A::B") == "one/two three"


@pytest.mark.parametrize("raw, decoded", [
    (b"100%", "100%"), (b"%zz", "%zz"), (b"%4", "%4"), (b"a%%41", "a%A"), (b"%+1x", "%+1x")])
def test_percent_sign_without_two_hex_digits_is_kept_literally(raw, decoded):
    assert apt_stream.unquote(raw) == decoded


def test_bytes_that_are_not_utf8_become_backslash_escapes():
    stream = parse_stream(b"VERSION 3\nA=caf\xe9 %ff\n\n")
    assert stream.config.get("A") == "caf\\xe9 \\xff"


def test_version_2_stream_has_no_architectures():
    actions = ["libc6 2.36-9 < 2.36-9+deb12u3"
               " /var/cache/apt/archives/libc6_2.36-9+deb12u3_amd64.deb",
               "libc6 2.36-9 < 2.36-9+deb12u3 **CONFIGURE**"]
    stream = parse_stream(make_stream(actions=actions, version=2))
    assert stream.version == 2
    assert [(a.name, a.old_version, a.new_version, a.old_arch, a.new_arch, a.action)
            for a in stream.action_lines.parse()] == [
        ("libc6", "2.36-9", "2.36-9+deb12u3", None, None,
         "/var/cache/apt/archives/libc6_2.36-9+deb12u3_amd64.deb"),
        ("libc6", "2.36-9", "2.36-9+deb12u3", None, None, "**CONFIGURE**")]


def test_deb_path_with_spaces_is_one_action():
    line = "foo - - none < 1.0 all none /tmp/my debs/foo_1.0_all.deb"
    (action,) = actions_of(make_stream(actions=[line]))
    assert action.action == "/tmp/my debs/foo_1.0_all.deb"


def test_empty_action_list_is_valid():
    stream = parse_stream(make_stream())
    assert stream.action_lines.parse() == () and stream.action_lines.is_empty
    assert stream.config.get("APT::Architecture") == "amd64"


def test_missing_version_line_names_the_apt_conf_key_to_set():
    data = b"APT::Architecture=amd64\n\nfoo - - none < 1 all none **CONFIGURE**\n"
    with pytest.raises(StreamError) as caught:
        parse_stream(data)
    assert str(caught.value).startswith("line 1 ")
    assert VERSION_KEY in str(caught.value)
    assert caught.value.config is None     # nothing was read as apt's configuration


def test_version_1_stream_is_recognised_and_names_the_key():
    error = raised(parse_stream, b"/var/cache/apt/archives/less_590-2.1~deb12u2_amd64.deb\n")
    assert "version-1" in error and VERSION_KEY in error


def test_error_names_the_program_path_it_was_given():
    error = raised(parse_stream, b"garbage\n", program="/opt/hook")
    assert 'DPkg::Tools::Options::/opt/hook::Version "3"' in error


def test_empty_stream_points_at_the_info_fd():
    error = raised(read_stream, io.BytesIO(b""))
    assert "empty" in error and "::InfoFD" in error and VERSION_KEY in error


@pytest.mark.parametrize("version", [b"1", b"4", b"3 ", b"three", b""])
def test_unsupported_version_is_an_error(version):
    error = raised(parse_stream, b"VERSION " + version + b"\nA=1\n\n")
    assert error.startswith("line 1: stream version")
    assert VERSION_KEY in error


def test_stream_cut_inside_the_config_is_an_error():
    assert "cut short" in raised(parse_stream, b"VERSION 3\nA=1\nB=2\n")
    assert "cut short" in raised(parse_stream, b"VERSION 3")


def test_action_line_without_newline_is_reported_as_cut_short_with_its_line():
    stream = parse_stream(make_stream(actions=["a - - none < 1 all none **CONFIGURE**"])[:-1])
    assert raised(stream.action_lines.parse) == \
        "line 4: the last action line has no newline: the stream was cut short"


def test_config_line_without_equals_sign_names_its_line():
    with pytest.raises(StreamError) as caught:
        parse_stream(b"VERSION 3\nA=1\njunk\nNovaSnapshotHook::Require=true\n\n")
    assert str(caught.value).startswith("line 3: 'junk'")
    # What the config said around the bad line stays known, for the Require option alone.
    assert caught.value.config.get("A") == "1"
    assert caught.value.config.get("novasnapshothook::require") == "true"


@pytest.mark.parametrize("line, problem", [
    ("foo 1.0 < 2.0 **CONFIGURE**", "space-separated fields"),
    ("foo 1.0 all none ! 2.0 all none **CONFIGURE**", "direction '!'"),
    ("foo 1.0 all none < 2.0 all none **UNPACK**", "action '**UNPACK**'"),
    ("foo - - none < - - none **REMOVE**", "neither an old nor a new version"),
    ("", "space-separated fields"),
    ("foo  1.0 all none < 2.0 all none **CONFIGURE**", "space-separated fields"),
])
def test_bad_action_line_is_named_by_number_and_no_line_is_given(line, problem):
    good = "bar - - none < 1.0 all none **CONFIGURE**"
    stream = parse_stream(make_stream(actions=[good, line, good]))   # the config is fine
    error = raised(stream.action_lines.parse)
    assert error.startswith("line 5: ") and problem in error
    assert "\n" not in error


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("Yes", True), ("1", True), ("ON", True), ("enable", True), ("with", True),
    ("false", False), ("no", False), ("0", False), ("Off", False), ("without", False),
    ("maybe", None), ("2", None), ("", None), (None, None)])
def test_booleans_are_read_as_apt_reads_them(text, expected):
    assert parse_bool(text) is expected


def test_config_bool_falls_back_to_the_default():
    config = AptConfig({"Foo::Bar": "yes", "Foo::Odd": "perhaps"})
    assert config.get_bool("foo::bar") is True
    assert config.get_bool("Foo::Odd", False) is False
    assert config.get_bool("Foo::Missing", "unset") == "unset"


def test_fingerprint_covers_the_action_lines_only():
    actions = ["foo 1 all none < 2 all none /tmp/foo_2_all.deb"]
    one = parse_stream(make_stream([("A::B", "1")], actions)).action_lines
    same_actions = parse_stream(make_stream([("A::B", "2")], actions)).action_lines
    other = parse_stream(make_stream([("A::B", "1")],
                                     ["foo 1 all none < 3 all none /tmp/f.deb"])).action_lines
    assert one.fingerprint() == same_actions.fingerprint()
    assert one.fingerprint() != other.fingerprint()
    assert len(one.fingerprint()) == 32


def test_records_are_read_only():
    action = Action("a", None, None, None, "<", "1", "all", "none", "**CONFIGURE**", 4)
    with pytest.raises(AttributeError):
        action.name = "b"
    with pytest.raises(AttributeError):
        action.extra = 1


class ExplodingReader:
    def __init__(self, first):
        self.first = first

    def read(self, size):
        if self.first is None:
            raise OSError(5, "Input/output error")
        data, self.first = self.first, None
        return data


def test_read_failure_becomes_a_stream_error():
    error = raised(read_stream, ExplodingReader(b"VERSION 3\nA=1\n"))
    assert error == "reading apt's stream failed after 14 bytes: [Errno 5] Input/output error"


def test_read_failure_keeps_the_config_read_before_it_for_the_require_option():
    with pytest.raises(StreamError) as caught:
        read_stream(ExplodingReader(b"VERSION 3\nNovaSnapshotHook::Require=1\n\nfoo"))
    assert caught.value.config.get("NovaSnapshotHook::Require") == "1"


def test_stream_above_the_kept_size_is_still_read_to_the_end():
    data = make_stream(actions=["pkg%d - - none < 1 all none **CONFIGURE**" % i
                                for i in range(500)])
    source = io.BytesIO(data)
    error = raised(read_stream, source, max_kept=1000)
    assert source.read() == b""
    assert error == (f"apt's stream is {len(data)} bytes, more than the 1000 this hook reads;"
                     " the rest was discarded")


def upgrade_lines(count):
    return [f"lib{i}:x 1:{i}.0~rc1-1 amd64 same < 1:{i}.0-1~deb12u1 amd64 same {action}"
            for i in range(count)
            for action in (f"/var/cache/apt/archives/lib{i}_1%3a{i}.0-1~deb12u1_amd64.deb",
                           "**CONFIGURE**")]


def read_through_pipe(data, **options):
    """read_stream on a real pipe that a thread fills as apt does; the writer must finish (a
    pipe holds 64 KiB: a reader that stopped early would leave it blocked)."""
    read_end, write_end = os.pipe()

    def write_like_apt():
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=write_like_apt, daemon=True)
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        stream = read_stream(pipe, **options)
    writer.join(timeout=10)
    assert not writer.is_alive()
    return stream


@settings(deadline=None, derandomize=True, max_examples=25)  # each example moves ~100-300 KB
@given(count=st.integers(400, 1500), padding=st.text("abc%= ", max_size=3000))
def test_stream_over_64_kib_on_a_pipe_is_read_whole_without_blocking_the_writer(count, padding):
    data = make_stream([("Big::Padding", padding)], upgrade_lines(count))
    assert len(data) > 65536
    stream = read_through_pipe(data)
    assert stream.size == len(data)
    actions = stream.action_lines.parse()
    assert len(actions) == 2 * count
    assert actions[-1].new_version == f"1:{count - 1}.0-1~deb12u1"
    assert stream.config.get("big::padding", "") == padding


# --- generated streams ---

quotable_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@GENERATED
@given(key=quotable_text.filter(lambda k: k and not k.endswith(":")), value=quotable_text)
def test_any_text_survives_apts_percent_encoding(key, value):
    stream = parse_stream(make_stream([(key, value)]))
    assert stream.config.get(key) == value


@GENERATED
@given(raw=st.binary(min_size=1, max_size=40))
def test_any_bytes_value_decodes_like_backslashreplace(raw):
    stream = parse_stream(make_stream([("Some::Key", raw)]))
    assert stream.config.get("Some::Key") == raw.decode("utf-8", "backslashreplace")


@GENERATED
@given(items=st.lists(quotable_text, min_size=1, max_size=8))
def test_list_items_survive_encoding_in_order(items):
    stream = parse_stream(make_stream([("My::List::", item) for item in items]))
    assert stream.config.get_list("my::list") == items


@GENERATED
@given(config=st.lists(st.tuples(st.from_regex(r"\A[A-Za-z][A-Za-z:-]{0,20}[a-z]\Z"),
                                 quotable_text), max_size=20))
def test_any_config_with_no_actions_gives_an_empty_action_list(config):
    stream = parse_stream(make_stream(config))
    assert stream.action_lines.parse() == () and stream.action_lines.is_empty


@GENERATED
@given(data=st.data())
def test_truncated_stream_is_an_error_unless_cut_between_action_lines(data):
    path = data.draw(st.sampled_from(FIXTURE_FILES), label="fixture")
    whole = path.read_bytes()
    cut = data.draw(st.integers(0, len(whole)), label="cut")
    actions_start = whole.index(b"\n\n") + 2
    clean_cut = cut >= actions_start and (cut == actions_start or whole[cut - 1:cut] == b"\n")
    if clean_cut:
        complete_lines = whole[actions_start:cut].count(b"\n")
        assert read_stream(io.BytesIO(whole[:cut])).action_lines.parse() == \
            actions_of(whole)[:complete_lines]
    else:
        with pytest.raises(StreamError) as caught:
            read_stream(io.BytesIO(whole[:cut])).action_lines.parse()
        assert "\n" not in str(caught.value)


stream_tokens = st.sampled_from([
    b"VERSION 3\n", b"VERSION 2\n", b"\n", b"\n\n", b" ", b"=", b"%", b"%2", b"%20", b"<", b">",
    b"-", b"none", b"all", b"amd64", b"**CONFIGURE**", b"**REMOVE**", b"**ERROR**", b"/x.deb",
    b"foo", b"1:2.0~rc1-1", b"\xff", b"\x00", b"::", b"A::B"])


def assert_drained_and_calm(data):
    """Read and parsed whole, or a one-line StreamError that is not a bug's; the stream is
    drained either way. Returns the parsed actions, or None."""
    source = io.BytesIO(data)
    try:
        stream = read_stream(source)
        assert stream.size == len(data)
        actions = stream.action_lines.parse()
    except StreamError as err:
        # "a bug" would be the safety net's word for a parser that raised something else.
        assert str(err) and "\n" not in str(err) and "a bug" not in str(err)
        actions = None
    assert source.tell() == len(data) and source.read() == b""
    return actions


@GENERATED
@given(data=st.binary(max_size=2048))
def test_random_bytes_raise_only_stream_errors_and_are_drained(data):
    assert_drained_and_calm(data)


@GENERATED
@given(body=st.binary(max_size=2048))
def test_random_bytes_after_a_version_line_raise_only_stream_errors_and_are_drained(body):
    assert_drained_and_calm(b"VERSION 3\n" + body)


@GENERATED
@given(tokens=st.lists(stream_tokens, max_size=120))
def test_streams_made_of_protocol_fragments_raise_only_stream_errors_and_are_drained(tokens):
    for action in assert_drained_and_calm(b"".join(tokens)) or ():
        assert action.direction in ("<", ">", "=") and (action.old_version or action.new_version)


# --- two steps, each complete or raising: what the hook's fast path relies on ---

def test_a_stream_is_a_value_with_no_room_for_an_error():
    stream = parse_stream(make_stream())
    assert not hasattr(stream, "error")
    with pytest.raises(AttributeError):
        stream.version = 2
    with pytest.raises(AttributeError):
        stream.error = "half-parsed"


def test_reading_leaves_a_bad_action_line_to_the_second_step():
    good = "bar - - none < 1.0 all none **CONFIGURE**"
    data = make_stream([("Some::Key", "x")], [good, "foo 1.0 < 2.0 **CONFIGURE**", good])
    stream = read_stream(io.BytesIO(data))            # the config is whole: no error yet
    assert stream.config.get("some::key") == "x" and stream.size == len(data)
    first = raised(stream.action_lines.parse)
    assert first.startswith("line 6: ")
    # Parsing changed nothing: it raises the same again, and no action was kept anywhere.
    assert raised(stream.action_lines.parse) == first
    assert len(stream.action_lines.fingerprint()) == 32


def test_a_config_error_is_raised_before_any_action_line_is_looked_at():
    data = b"VERSION 3\nA=1\njunk\n\nfoo 1.0 < 2.0 **CONFIGURE**\n"
    assert raised(read_stream, io.BytesIO(data)).startswith("line 3: 'junk'")


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_parsing_gives_a_complete_tuple_and_the_same_one_each_time(path):
    lines = read_stream(io.BytesIO(path.read_bytes())).action_lines
    actions = lines.parse()
    assert type(actions) is tuple and all(type(a) is Action for a in actions)
    assert lines.parse() == actions and len(actions) == len(fixture_action_lines(path))


def test_a_parser_bug_becomes_a_stream_error_that_says_so(monkeypatch):
    def broken(*args):
        raise IndexError("boom")

    monkeypatch.setattr(apt_stream, "_parse_action_lines", broken)
    stream = parse_stream(make_stream(actions=[CONFIGURE_LINE]))
    assert "a bug, please report" in raised(stream.action_lines.parse)
    monkeypatch.setattr(apt_stream, "parse_stream", broken)
    assert "a bug, please report" in raised(read_stream, io.BytesIO(make_stream()))


def test_reading_drains_a_pipe_over_64_kib_without_parsing_the_lines():
    data = make_stream([("NovaSnapshotHook::Skip", "true")], upgrade_lines(2000) + ["junk"])
    assert len(data) > 4 * 65536
    stream = read_through_pipe(data)                  # "junk" is not looked at
    assert stream.size == len(data)
    assert stream.config.get("novasnapshothook::skip") == "true"
    assert not stream.action_lines.is_empty
    assert raised(stream.action_lines.parse).startswith("line 4005: 'junk'")


def test_action_lines_read_as_empty_when_there_are_none():
    assert ActionLines().is_empty and ActionLines().parse() == ()


CONFIGURE_LINE = "foo 1.0 amd64 none < 2.0 amd64 none **CONFIGURE**"
CHANGE_LINES = [  # each makes a change: unpack, install, remove, purge, **ERROR**, reinstall
    "foo 1.0 amd64 none < 2.0 amd64 none /var/cache/apt/archives/foo_2.0_amd64.deb",
    "bar - - none < 1.0 all none /tmp/my debs/bar_1.0_all.deb",
    "baz 1.0 amd64 none > - - none **REMOVE**",
    "qux 1.0 amd64 none < 2.0 amd64 none **ERROR**",
    "foo 2.0 amd64 none = 2.0 amd64 none /tmp/foo_2.0_amd64.deb",
]


@pytest.mark.parametrize("actions, expected", [
    ([], True),
    ([CONFIGURE_LINE], True),
    ([CONFIGURE_LINE] * 3, True),
    ([CONFIGURE_LINE, CHANGE_LINES[0]], False),
    ([CHANGE_LINES[2]], False),
    ([CHANGE_LINES[3], CONFIGURE_LINE], False),
    ([CONFIGURE_LINE, ""], False),              # an empty line is not a configure line
    (["", CONFIGURE_LINE], False),
    ([CONFIGURE_LINE + " x"], False),
    (["foo 1.0 amd64 none < 2.0 amd64 none /tmp/foo**CONFIGURE**"], False),  # a .deb path
])
def test_is_empty_reads_the_raw_lines(actions, expected):
    stream = read_stream(io.BytesIO(make_stream(actions=actions)))
    assert stream.action_lines.is_empty is expected


def test_a_configure_line_cut_short_is_not_taken_for_configure_only():
    data = make_stream(actions=[CONFIGURE_LINE, CONFIGURE_LINE])[:-1]
    assert read_stream(io.BytesIO(data)).action_lines.is_empty is False


@GENERATED
@given(lines=st.lists(st.sampled_from([CONFIGURE_LINE, CONFIGURE_LINE.replace("foo", "x:y")]
                                      + CHANGE_LINES), max_size=30),
       version=st.sampled_from([2, 3]))
def test_is_empty_is_what_the_change_set_says_for_well_formed_lines(lines, version):
    from nova_snapshot_hook.apt.changes import build_changes
    if version == 2:  # the same lines without the arch and multiarch fields
        lines = [" ".join(f for i, f in enumerate(line.split(" ", 8)) if i not in (2, 3, 6, 7))
                 for line in lines]
    action_lines = parse_stream(make_stream(actions=lines, version=version)).action_lines
    assert action_lines.is_empty is build_changes(action_lines.parse(), "amd64").is_empty
