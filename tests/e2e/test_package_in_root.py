"""The built .deb in throwaway Debian 12 and 13 roots (debootstrap), against the local cloud.

Never the host's own apt: tests/e2e/debroot runs apt and dpkg only chrooted into the roots.
`make check` builds the .deb and passes its path in NSH_DEB.
"""

import json
import os
import stat

from aptlab import CONF
from cloud_fixtures import worker_server

ROOT_NAME = "e2e"           # the root fixture (conftest.py): build/roots/e2e-<suite>


def test_package_installs_the_program_the_conffiles_and_the_man_page(root):
    program = os.stat(root.file("/usr/sbin/nova-snapshot-hook"))
    assert program.st_mode & stat.S_IXUSR
    credentials = os.stat(root.file(CONF + "/credentials"))
    assert stat.S_IMODE(credentials.st_mode) == 0o600 and credentials.st_uid == 0
    assert os.path.exists(root.file("/usr/share/man/man8/nova-snapshot-hook.8.gz"))
    assert not os.path.exists(root.file("/usr/bin/nova-snapshot-hook"))
    conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", "nova-snapshot-hook").stdout
    assert CONF + "/credentials" in conffiles
    assert "/etc/apt/apt.conf.d/80nova-snapshot-hook" in conffiles
    help_text = root.run("/usr/sbin/nova-snapshot-hook", "snapshot", "--help")
    assert help_text.returncode == 0 and "BACKUP_TYPE" in help_text.stdout


def test_the_shipped_conffile_holds_no_credentials_and_says_so(root):
    result = root.run("/usr/sbin/nova-snapshot-hook", "snapshot")
    assert result.returncode == 2
    assert CONF + "/credentials" in result.stderr and "Traceback" not in result.stderr


def test_snapshot_from_inside_the_root_makes_an_image_of_the_named_server(root, admin):
    root.configure()
    result = root.run("/usr/sbin/nova-snapshot-hook", "snapshot", "e2e", "2", "--json",
                      "--wait", "active")
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    image = admin.glance.get(f"/v2/images/{made['image_id']}").json()
    assert image["instance_uuid"] == worker_server() and image["backup_type"] == "e2e"
    assert image["nsh_series"] == "e2e" and image["status"] == "active"
    admin.glance.delete(f"/v2/images/{made['image_id']}")


def test_credentials_readable_by_others_are_refused(root):
    root.configure()
    os.chmod(root.file(CONF + "/credentials"), 0o644)
    try:
        result = root.run("/usr/sbin/nova-snapshot-hook", "snapshot")
    finally:
        os.chmod(root.file(CONF + "/credentials"), 0o600)
    assert result.returncode == 2 and "chmod 600" in result.stderr
