"""The end-of-run check of tests/conftest.py: the listing of the state directories and its
comparison find every change, so a test that writes the host's own state fails the run."""

import os

from host_state import HOST_DIRECTORIES, StateRoot, changes, listing
from nova_snapshot_hook import paths


def test_the_host_directories_are_the_tools_defaults():
    assert HOST_DIRECTORIES == ("/run/nova-snapshot-hook", "/var/lib/nova-snapshot-hook")


def test_nothing_changed_is_no_change(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "attempts").write_text("{}\n")
    directories = (str(tmp_path / "state"), str(tmp_path / "missing"))
    assert changes(listing(directories), listing(directories)) == []


def test_a_directory_made_or_removed_is_a_change(tmp_path):
    made, removed = str(tmp_path / "made"), str(tmp_path / "removed")
    os.mkdir(removed)
    before = listing((made, removed))
    assert before[made] is None and before[removed] == {".": before[removed]["."]}
    os.mkdir(made)
    os.rmdir(removed)
    assert changes(before, listing((made, removed))) == [f"{made}: created", f"{removed}: removed"]


def test_a_file_created_removed_or_rewritten_is_a_change(tmp_path):
    directory = tmp_path / "state"
    (directory / "sub").mkdir(parents=True)
    for name in ("kept", "rewritten", "removed", "touched"):
        (directory / name).write_text("old\n")
        os.utime(directory / name, ns=(10**18, 10**18))
    os.utime(directory / "sub", ns=(10**18, 10**18))
    os.utime(directory, ns=(10**18, 10**18))
    before = listing((str(directory),))
    (directory / "rewritten").write_text("new, longer\n")
    (directory / "removed").unlink()
    os.utime(directory / "touched", ns=(2 * 10**18, 2 * 10**18))
    (directory / "sub" / "new").write_text("")
    found = changes(before, listing((str(directory),)))
    assert [line.split(":")[0] for line in found] == [
        str(directory), f"{directory}/removed", f"{directory}/rewritten", f"{directory}/sub",
        f"{directory}/sub/new", f"{directory}/touched"]
    assert f"{directory}/sub/new: created" in found and f"{directory}/removed: removed" in found
    assert "size 4 -> 12" in found[2] and "mtime" in found[5] and "size" not in found[5]


def test_a_changed_mode_is_a_change(tmp_path):
    (tmp_path / "lock").write_text("")
    before = listing((str(tmp_path),))
    os.chmod(tmp_path / "lock", 0o666)
    assert [line.split(" (")[0] for line in changes(before, listing((str(tmp_path),)))] == [
        f"{tmp_path}/lock: changed"]


def test_a_state_root_places_the_files_as_the_tool_does(tmp_path, monkeypatch):
    root = StateRoot(tmp_path)
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(tmp_path))
    assert str(root.run) == paths.run_dir() == f"{tmp_path}/run/nova-snapshot-hook"
    assert str(root.lib) == paths.lib_dir() == f"{tmp_path}/var/lib/nova-snapshot-hook"
    assert (str(root.attempts), str(root.schedule)) == (paths.attempts(), paths.schedule_state())


def test_the_run_has_its_own_root(state_root):
    """tests/conftest.py set one for the session; the fixture gives a test its own."""
    assert os.environ[paths.ROOT_ENVIRONMENT] == str(state_root.root)
