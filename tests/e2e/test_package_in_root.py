"""The built .deb in throwaway Debian 12 and 13 roots (debootstrap), against the local cloud.

Never the host's own apt: tests/e2e/debroot runs apt and dpkg only chrooted into the roots.
`make check` builds the .deb and passes its path in NSH_DEB.
"""

import glob
import json
import os
import stat
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
from cloud_fixtures import STATE, read_state  # noqa: E402  (tests/integration/cloud_fixtures.py, via conftest)

DEBROOT = os.path.join(HERE, "debroot")
SUITES = ("bookworm", "trixie")
CONF = "/etc/nova-snapshot-hook"


def required():
    return os.environ.get("NSH_REQUIRE_CLOUD") == "1"


def built_deb():
    deb = os.environ.get("NSH_DEB") or next(iter(sorted(glob.glob(
        os.path.join(REPO, "build", "nova-snapshot-hook_*_all.deb")))), "")
    if not os.path.exists(deb):
        (pytest.fail if required() else pytest.skip)("no built .deb: run make deb (make check does)")
    return deb


def debroot(*args, check=True):
    result = subprocess.run([DEBROOT, *args], capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"debroot {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


class Root:
    def __init__(self, suite):
        self.suite = suite
        self.path = os.path.join(REPO, "build", "roots", f"e2e-{suite}")

    def file(self, path):
        return os.path.join(self.path, path.lstrip("/"))

    def write(self, path, text):
        with open(self.file(path), "w", encoding="utf-8") as handle:
            handle.write(text)

    def run(self, *command):
        return debroot("run", self.path, *command, check=False)


@pytest.fixture(scope="module", params=SUITES)
def root(request):
    deb = built_deb()
    if not os.path.exists(os.path.join(STATE, "server_id")):
        (pytest.fail if required() else pytest.skip)("the local cloud is not up")
    made = Root(request.param)
    debroot("destroy", made.path)
    debroot("create", made.suite, made.path)
    debroot("install", made.path, deb)
    yield made
    debroot("destroy", made.path)


def configure(root, credentials=None, server=None):
    path = root.file(CONF + "/credentials")
    with open(path, "w", encoding="utf-8") as handle:   # keeps the package's mode
        handle.write(credentials if credentials is not None else read_state("appcred-openrc") + "\n")
    root.write(CONF + "/nova-snapshot-hook.conf",
               f"[server]\nid = {server or read_state('server_id')}\nmetadata_url =\n")


def test_package_installs_the_program_the_conffile_and_the_man_page(root):
    program = os.stat(root.file("/usr/sbin/nova-snapshot-hook"))
    assert program.st_mode & stat.S_IXUSR
    credentials = os.stat(root.file(CONF + "/credentials"))
    assert stat.S_IMODE(credentials.st_mode) == 0o600 and credentials.st_uid == 0
    assert os.path.exists(root.file("/usr/share/man/man8/nova-snapshot-hook.8.gz"))
    assert not os.path.exists(root.file("/usr/bin/nova-snapshot-hook"))
    conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", "nova-snapshot-hook").stdout
    assert CONF + "/credentials" in conffiles
    help_text = root.run("/usr/sbin/nova-snapshot-hook", "snapshot", "--help")
    assert help_text.returncode == 0 and "BACKUP_TYPE" in help_text.stdout


def test_the_shipped_conffile_holds_no_credentials_and_says_so(root):
    result = root.run("/usr/sbin/nova-snapshot-hook", "snapshot")
    assert result.returncode == 2
    assert CONF + "/credentials" in result.stderr and "Traceback" not in result.stderr


def test_snapshot_from_inside_the_root_makes_an_image_of_the_named_server(root, admin):
    configure(root)
    result = root.run("/usr/sbin/nova-snapshot-hook", "snapshot", "e2e", "2", "--json",
                      "--wait", "active")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    image = admin.glance.get(f"/v2/images/{made['image_id']}").json()
    assert image["instance_uuid"] == read_state("server_id") and image["backup_type"] == "e2e"
    assert image["nsh_series"] == "e2e" and image["status"] == "active"
    admin.glance.delete(f"/v2/images/{made['image_id']}")


def test_credentials_readable_by_others_are_refused(root):
    configure(root)
    os.chmod(root.file(CONF + "/credentials"), 0o644)
    try:
        result = root.run("/usr/sbin/nova-snapshot-hook", "snapshot")
    finally:
        os.chmod(root.file(CONF + "/credentials"), 0o600)
    assert result.returncode == 2 and "chmod 600" in result.stderr
