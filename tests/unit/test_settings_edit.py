"""debian/share/settings-edit: the postinst's in-place editor of the settings file (the shipped
file's keys and defaults are checked against the settings table in test_settings_table.py)."""

import os
import subprocess

import pytest

from nova_snapshot_hook.config import parse_settings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EDIT = os.path.join(REPO, "debian", "share", "settings-edit")
TEMPLATE = os.path.join(REPO, "debian", "share", "nova-snapshot-hook.conf")


def edit(path, *triples, template=None, check=True):
    args = ["/bin/sh", EDIT] + (["--template", template] if template else []) + [str(path)]
    args += [str(word) for word in triples]
    result = subprocess.run(args, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def get(path, section, key):
    result = subprocess.run(["/bin/sh", EDIT, "--get", str(path), section, key],
                            capture_output=True, text=True)
    return result.stdout.rstrip("\n") if result.returncode == 0 else None


def test_a_new_file_starts_from_the_template_with_the_values_set(tmp_path):
    conf = tmp_path / "nsh.conf"
    edit(conf, "apt", "rotation", "9", "schedule", "yearly", "0", "server", "id", "abc",
         template=TEMPLATE)
    text = conf.read_text()
    template = open(TEMPLATE).read()
    assert text == template.replace("rotation = 5", "rotation = 9").replace(
        "yearly = 2", "yearly = 0").replace("\nid =\n", "\nid = abc\n")
    assert oct(conf.stat().st_mode & 0o777) == "0o644"


def test_only_the_managed_keys_change_and_everything_else_stays(tmp_path):
    conf = tmp_path / "nsh.conf"
    original = ("# my comment\n[apt]\n; another comment\nenabled=yes\nrotation : 5\n"
                "exclude = linux-image-*\n\n# about schedules\n[schedule]\nDaily = 7\n"
                "max_delay = 60\n[custom]\nfoo = bar\n")
    conf.write_text(original)
    edit(conf, "apt", "enabled", "yes", "apt", "rotation", "8", "schedule", "daily", "3")
    assert conf.read_text() == original.replace("rotation : 5", "rotation = 8").replace(
        "Daily = 7", "daily = 3")


def test_missing_keys_go_to_the_end_of_their_section_and_missing_sections_to_the_end(tmp_path):
    conf = tmp_path / "nsh.conf"
    conf.write_text("[apt]\nenabled = yes\n\n# the schedule\n[schedule]\ndaily = 7\n")
    edit(conf, "apt", "wait", "120", "schedule", "weekly", "0", "server", "id", "")
    assert conf.read_text() == ("[apt]\nenabled = yes\nwait = 120\n\n# the schedule\n[schedule]\n"
                                "daily = 7\nweekly = 0\n\n[server]\nid =\n")


def test_a_replaced_value_loses_its_continuation_lines(tmp_path):
    conf = tmp_path / "nsh.conf"
    conf.write_text("[apt]\noperations = install\n    upgrade\n\tremove\nrotation = 5\n")
    edit(conf, "apt", "operations", "upgrade")
    assert conf.read_text() == "[apt]\noperations = upgrade\nrotation = 5\n"
    assert parse_settings(conf.read_text(), "x").apt_operations == ("upgrade",)


def test_values_are_written_literally(tmp_path):
    conf = tmp_path / "nsh.conf"
    value = "it's $HOME `x` \\n & | % 100"
    edit(conf, "server", "id", value)
    assert conf.read_text() == f"\n[server]\nid = {value}\n"
    assert get(conf, "server", "id") == value


def test_owner_and_mode_are_kept_and_an_unchanged_file_is_not_rewritten(tmp_path):
    conf = tmp_path / "nsh.conf"
    conf.write_text("[apt]\nrotation = 5\n")
    conf.chmod(0o640)
    before = conf.stat()
    edit(conf, "apt", "rotation", "5")
    assert conf.stat().st_ino == before.st_ino and conf.stat().st_mtime_ns == before.st_mtime_ns
    edit(conf, "apt", "rotation", "6")
    assert conf.stat().st_mode & 0o777 == 0o640 and conf.stat().st_uid == before.st_uid
    assert sorted(os.listdir(tmp_path)) == ["nsh.conf"]          # no temporary file left


def test_get_reads_the_first_value_of_the_section_and_fails_when_absent(tmp_path):
    conf = tmp_path / "nsh.conf"
    conf.write_text("[apt]\n# rotation = 1\nrotation = 5 \n[schedule]\nrotation = 3\n")
    assert get(conf, "apt", "rotation") == "5"
    assert get(conf, "apt", "wait") is None
    assert get(tmp_path / "absent.conf", "apt", "rotation") is None


@pytest.mark.parametrize("args", [("apt", "bad key", "1"), ("apt", "rotation")])
def test_bad_arguments_are_refused(tmp_path, args):
    result = edit(tmp_path / "nsh.conf", *args, check=False)
    assert result.returncode == 2 and "settings-edit" in result.stderr
    assert not (tmp_path / "nsh.conf").exists()
