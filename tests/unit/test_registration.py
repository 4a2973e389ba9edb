"""`check`'s view of apt's configuration: real apt_pkg, on files written under tmp_path only.

apt_pkg reads below tmp_path (apt's Dir) and APT_CONFIG is unset or points into tmp_path, so the
host's own /etc/apt is never read.
"""

import sys
from pathlib import Path

import pytest

from nova_snapshot_hook.apt import registration
from nova_snapshot_hook.apt.registration import (
    FAIL, OK, SKIP, WARN, AptHookSettings, Blame, assess, hook_registration)

apt_pkg = pytest.importorskip("apt_pkg")

SHIPPED = (Path(__file__).resolve().parents[2] / "etc" / "apt" / "apt.conf.d"
           / "80nova-snapshot-hook").read_text(encoding="utf-8")
OPTIONS = "DPkg::Tools::Options::/usr/sbin/nova-snapshot-hook"
PRE_INSTALL = '/usr/sbin/nova-snapshot-hook apt-hook || test $? -ne 99'
POST_INVOKE = "/usr/sbin/nova-snapshot-hook apt-post-invoke || true"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A root whose apt.conf.d holds the shipped file; APT_CONFIG unset (never the host's)."""
    monkeypatch.delenv("APT_CONFIG", raising=False)
    parts = tmp_path / "etc" / "apt" / "apt.conf.d"
    parts.mkdir(parents=True)
    (parts / "80nova-snapshot-hook").write_text(SHIPPED, encoding="utf-8")
    yield tmp_path
    registration._empty(apt_pkg.config)       # leave no test's configuration to the next


def conf(root, name, text):
    path = root / "etc" / "apt" / "apt.conf.d" / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def shipped_without(root, *words):
    """The shipped file with every line holding one of `words` dropped."""
    kept = [line for line in SHIPPED.splitlines() if not any(word in line for word in words)]
    return conf(root, "80nova-snapshot-hook", "\n".join(kept) + "\n")


def test_the_shipped_file_registers_the_hook(root):
    result = hook_registration(root)
    assert (result.state, result.findings) == (OK, ())
    assert "version 3 on InfoFD 20" in result.text and "80nova-snapshot-hook" in result.text
    assert result.files and all(path.startswith(str(root)) for path in result.files)


def test_no_hook_line_fails_and_says_how_to_restore_the_conffile(root):
    (root / "etc" / "apt" / "apt.conf.d" / "80nova-snapshot-hook").unlink()
    result = hook_registration(root)
    assert result.state == FAIL
    assert "DPkg::Pre-Install-Pkgs has no" in result.text and "--force-confmiss" in result.text


def test_version_2_is_a_warning_naming_the_file_that_set_it(root):
    path = conf(root, "90version", f'{OPTIONS}::Version "2";\n')
    result = hook_registration(root)
    assert result.state == WARN
    assert f"{OPTIONS}::Version is \"2\" (set in {path})" in result.text


def test_version_missing_fails_apt_would_send_paths_only(root):
    shipped_without(root, "::Version")
    result = hook_registration(root)
    assert result.state == FAIL and f"{OPTIONS}::Version is not set" in result.text


def test_info_fd_missing_is_a_warning(root):
    shipped_without(root, "::InfoFD")
    result = hook_registration(root)
    assert result.state == WARN and f"{OPTIONS}::InfoFD is not set" in result.text


def test_skip_set_for_every_run_fails_naming_the_file(root):
    path = conf(root, "99skip", 'NovaSnapshotHook::Skip "true";\n')
    result = hook_registration(root)
    assert result.state == FAIL
    assert result.text.startswith(f'NovaSnapshotHook::Skip is "true" in {path}')


def test_skip_set_then_unset_by_a_later_file_is_fine(root):
    conf(root, "90skip", 'NovaSnapshotHook::Skip "true";\n')
    conf(root, "95noskip", 'NovaSnapshotHook::Skip "false";\n')
    assert hook_registration(root).state == OK


def test_a_later_file_that_clears_the_list_fails_naming_it(root):
    path = conf(root, "99clear", "#clear DPkg::Pre-Install-Pkgs;\n")
    result = hook_registration(root)
    assert result.state == FAIL
    assert f"{path} clears the list after" in result.text


def test_a_clear_in_an_earlier_file_changes_nothing(root):
    conf(root, "10clear", "#clear DPkg::Pre-Install-Pkgs;\n")
    assert hook_registration(root).state == OK


def test_files_apt_ignores_are_ignored(root):
    conf(root, "99skip.disabled", 'NovaSnapshotHook::Skip "true";\n')
    conf(root, "99clear.dpkg-old", "#clear DPkg::Pre-Install-Pkgs;\n")
    read = conf(root, "99other.conf", "APT::Other \"1\";\n")
    result = hook_registration(root)
    assert result.state == OK         # apt's verdict; the files named follow apt's rules too:
    assert [Path(path).name for path in result.files] == ["80nova-snapshot-hook", Path(read).name]


def test_apt_config_variable_is_read_as_apt_reads_it(root, monkeypatch):
    alternate = root / "alternate.conf"
    alternate.write_text('NovaSnapshotHook::Skip "yes";\n', encoding="utf-8")
    monkeypatch.setenv("APT_CONFIG", str(alternate))
    result = hook_registration(root)
    assert result.state == FAIL and f"in {alternate}" in result.text


def test_post_invoke_missing_is_a_warning(root):
    shipped_without(root, "DPkg::Post-Invoke")
    result = hook_registration(root)
    assert result.state == WARN and "DPkg::Post-Invoke has no" in result.text


def test_a_syntax_error_fails_in_one_line(root):
    conf(root, "50broken", 'APT::Foo "1"\n')
    result = hook_registration(root)
    assert result.state == FAIL and "50broken" in result.text and "\n" not in result.text


def test_reading_twice_does_not_double_the_lists(root):
    hook_registration(root)
    assert hook_registration(root).state == OK        # a doubled line would be a WARN


def test_without_python3_apt_the_check_is_skipped_in_one_line(root, monkeypatch):
    monkeypatch.setitem(sys.modules, "apt_pkg", None)      # import apt_pkg raises ImportError
    result = hook_registration(root)
    assert result.state == SKIP and "python3-apt" in result.text


# --------------------------------------------------------------------- the pure verdict


def settings(**values):
    base = dict(pre_install=(PRE_INSTALL,), post_invoke=(POST_INVOKE,), version="3",
                info_fd="20", skip=None)
    return AptHookSettings(**{**base, **values})


@pytest.mark.parametrize("values, state, words", [
    ({}, OK, "InfoFD 20"),
    ({"version": "1"}, FAIL, "stream versions 2 and 3"),
    ({"info_fd": "1"}, WARN, "standard input"),
    ({"skip": "off"}, OK, "InfoFD 20"),
    ({"skip": "1"}, FAIL, "every apt run"),
    ({"pre_install": (PRE_INSTALL, PRE_INSTALL)}, WARN, "2 times"),
    ({"pre_install": ("/usr/sbin/nova-snapshot-hook apt-hook",)}, WARN, "not the shipped"),
    ({"pre_install": ("nova-snapshot-hook apt-hook",)}, FAIL, "first word is not"),
    ({"pre_install": ("/usr/sbin/dpkg-preconfigure --apt || true",)}, FAIL, "has no"),
])
def test_assess(values, state, words):
    result = assess(settings(**values))
    assert result.state == state and words in result.text


def test_assess_puts_failures_before_warnings():
    result = assess(settings(info_fd=None, skip="true"))
    assert [state for state, _ in result.findings] == [FAIL, WARN]
    assert result.text == result.findings[0][1]


def test_assess_names_the_file_that_set_the_hook_line():
    result = assess(settings(pre_install=()), Blame(pre_install="/x/99clear", hook_line="/x/80a"))
    assert "/x/99clear clears the list after /x/80a set it" in result.text
