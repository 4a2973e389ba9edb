"""The files the apt hook leaves for apt-post-invoke (apt/state.py), and what apt-post-invoke makes
of them (apt/post_invoke.py)."""

import os
import stat

import pytest
from hypothesis import given, settings, strategies as st

from nova_snapshot_hook.apt import post_invoke as outcome
from nova_snapshot_hook.apt import state
from nova_snapshot_hook.apt.state import Transaction

GENERATED = settings(deadline=None, derandomize=True, max_examples=200)
NOW = 1795665960.0


# --- pending-outcome ---

def test_pending_file_lists_the_image_and_what_dpkg_should_leave():
    image, expected = state.parse_pending_outcome("image abc\nless:amd64 590-2\nold:all -\n")
    assert image == "abc" and expected == {"less:amd64": "590-2", "old:all": "-"}


def test_pending_file_is_written_in_the_format_it_is_read_in():
    expected = {"less:amd64": "590-2.1~deb12u2", "hello:all": "-", "libc6": "2.36-9"}
    text = state.format_pending_outcome("9f1c-image", expected)
    assert text == "image 9f1c-image\nless:amd64 590-2.1~deb12u2\nhello:all -\nlibc6 2.36-9\n"
    assert state.parse_pending_outcome(text) == ("9f1c-image", expected)


def test_pending_file_of_no_changes_still_names_the_image():
    assert state.parse_pending_outcome(state.format_pending_outcome("img", {})) == ("img", {})


def test_outcome_succeeds_only_when_every_package_is_where_apt_meant_it():
    expected = {"less:amd64": "590-2", "old:all": "-"}
    assert outcome.outcome(expected, {"less:amd64": "590-2"}) == "succeeded"
    assert outcome.outcome(expected, {"less:amd64": "590-1"}) == "failed"
    assert outcome.outcome(expected, {}) == "failed"
    assert outcome.outcome(expected, {"less:amd64": "590-2", "old:all": "1"}) == "failed"


# --- later-changes ---

def test_later_changes_continue_the_numbering_within_the_cap():
    text = "image abc\nchanges install b 1\nchanges remove c 2\n"
    image, chunks = state.parse_later_changes(text)
    assert image == "abc" and chunks == ["install b 1", "remove c 2"]
    assert outcome.later_properties({"nsh_later_01": "x"}, chunks) == {
        "nsh_later_02": "install b 1", "nsh_later_03": "remove c 2"}
    full = {f"nsh_later_{n:02d}": "x" for n in range(1, outcome.MAX_CHANGE_PROPERTIES + 1)}
    assert outcome.later_properties(full, chunks) == {}


def test_unreadable_later_file_is_ignored():
    assert state.parse_later_changes("garbage") == (None, [])
    assert state.parse_later_changes("") == (None, [])


def test_later_changes_are_added_to_the_same_images_file_and_start_anew_for_another():
    first = state.format_later_changes("img", ["upgrade a 1->2"])
    assert first == "image img\nchanges upgrade a 1->2\n"
    second = state.format_later_changes("img", ["remove b 3"], earlier=first)
    assert state.parse_later_changes(second) == ("img", ["upgrade a 1->2", "remove b 3"])
    other = state.format_later_changes("img2", ["install c 1"], earlier=second)
    assert state.parse_later_changes(other) == ("img2", ["install c 1"])
    assert state.parse_later_changes(
        state.format_later_changes("img", ["x 1"], earlier="garbage")) == ("img", ["x 1"])


def test_a_newline_in_a_value_cannot_add_a_line_to_a_state_file():
    text = state.format_later_changes("img\nchanges forged", ["a\nchanges b"])
    assert state.parse_later_changes(text) == ("img?changes forged", ["a?changes b"])
    pending = state.format_pending_outcome("i\nx y", {"a b": "1\nc 2"})
    assert state.parse_pending_outcome(pending) == ("i?x y", {"a?b": "1?c?2"})


# --- last-apt-snapshot ---

def test_transaction_record_round_trips_through_text():
    record = Transaction("ab12", 4242, NOW + 0.25, "unattended-upgrade", "9f1c-image")
    text = state.format_last_snapshot(record)
    assert text == ("fingerprint=ab12\nfrontend_pid=4242\ntime=1795665960.25\n"
                    "frontend=unattended-upgrade\nimage_id=9f1c-image\n")
    assert state.parse_last_snapshot(text) == record
    assert state.parse_last_snapshot(text.encode()) == record


@pytest.mark.parametrize("text", ["", "garbage", "fingerprint=a\ntime=soon\n",
                                  "time=5\n", "fingerprint=a\ntime=5\nfrontend_pid=x\n", None])
def test_unreadable_transaction_record_reads_as_no_previous_snapshot(text):
    assert state.parse_last_snapshot(text) is None


def test_control_characters_cannot_break_the_record_format():
    record = Transaction("a\nfrontend_pid=1", None, NOW, "x\ry", None)
    back = state.parse_last_snapshot(state.format_last_snapshot(record))
    assert back.fingerprint == "a?frontend_pid=1" and back.frontend_pid is None
    assert back.frontend == "x?y"


@GENERATED
@given(fingerprint=st.text("0123456789abcdef", min_size=1, max_size=32),
       pid=st.none() | st.integers(1, 2 ** 22),
       at=st.floats(0, 4e9, allow_nan=False),
       frontend=st.text(st.characters(min_codepoint=32, blacklist_categories=("Cs",)),
                        max_size=30),
       image_id=st.none() | st.uuids().map(str))
def test_any_transaction_record_round_trips(fingerprint, pid, at, frontend, image_id):
    record = Transaction(fingerprint, pid, at, frontend, image_id)
    assert state.parse_last_snapshot(state.format_last_snapshot(record)) == record


# --- reading and writing them ---

def test_state_files_are_written_whole_private_and_read_back(state_root):
    directory = state_root.run
    assert state.read(state.LAST_SNAPSHOT) is None
    state.write(state.LAST_SNAPSHOT, "one\n")
    state.write(state.LAST_SNAPSHOT, "two\n")
    assert state.read(state.LAST_SNAPSHOT) == "two\n"
    assert stat.S_IMODE(os.stat(directory / state.LAST_SNAPSHOT).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert sorted(os.listdir(directory)) == [state.LAST_SNAPSHOT]     # no temporary file left


def test_taking_a_state_file_removes_it(state_root):
    state_root.run.mkdir(parents=True)
    (state_root.run / state.PENDING_OUTCOME).write_bytes(b"image a\nbad\xff 1\n")
    assert state.take(state.PENDING_OUTCOME) == "image a\nbad\ufffd 1\n"
    assert state.take(state.PENDING_OUTCOME) is None
    assert not (state_root.run / state.PENDING_OUTCOME).exists()
