"""`check`'s reading of apt's configuration, with the built .deb installed in Debian 12 and 13
roots: python3-apt of that release reads that root's /etc/apt, and apt-config agrees.

Needs only the .deb (NSH_DEB, or make deb), no cloud.
"""

import pytest

PARTS = "/etc/apt/apt.conf.d"
HOOK_LINE = "/usr/sbin/nova-snapshot-hook apt-hook"
REPORT = ("from nova_snapshot_hook.apt.registration import hook_registration\n"
          "result = hook_registration()\n"
          "print(result.state)\n"
          "print(result.text)\n")
ROOT_NAME = "registration"  # the root fixture (conftest.py): build/roots/registration-<suite>
ROOT_NEEDS_CLOUD = False


@pytest.fixture
def drop_in(root):
    """Write files into the root's apt.conf.d; they are removed after the test."""
    written = []

    def write(name, text):
        root.write(f"{PARTS}/{name}", text)
        written.append(f"{PARTS}/{name}")
        return f"{PARTS}/{name}"
    yield write
    for path in written:
        root.run("rm", "-f", path)


def registration(root):
    result = root.run("/usr/bin/python3", "-c", REPORT)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    state, text = result.stdout.rstrip("\n").split("\n")
    return state, text


def apt_sees_hook_line(root):
    dump = root.run("apt-config", "dump", "DPkg::Pre-Install-Pkgs")
    assert dump.returncode == 0, dump.stderr
    return HOOK_LINE in dump.stdout


def test_the_installed_package_is_registered(root):
    state, text = registration(root)
    assert state == "OK", text
    assert f"from {PARTS}/80nova-snapshot-hook" in text and "InfoFD 20" in text
    assert apt_sees_hook_line(root)


def test_skip_for_every_run_is_reported_with_its_file(root, drop_in):
    path = drop_in("99skip", 'NovaSnapshotHook::Skip "true";\n')
    state, text = registration(root)
    assert state == "FAIL" and text.startswith(f'NovaSnapshotHook::Skip is "true" in {path}')


def test_a_later_file_clearing_the_list_is_reported_and_apt_agrees(root, drop_in):
    path = drop_in("99clear", "#clear DPkg::Pre-Install-Pkgs;\n")
    state, text = registration(root)
    assert state == "FAIL" and f"{path} clears the list after {PARTS}/80nova-snapshot-hook" in text
    assert not apt_sees_hook_line(root)


def test_an_earlier_file_clearing_the_list_changes_nothing(root, drop_in):
    drop_in("10clear", "#clear DPkg::Pre-Install-Pkgs;\n")
    state, text = registration(root)
    assert state == "OK", text
    assert apt_sees_hook_line(root)
