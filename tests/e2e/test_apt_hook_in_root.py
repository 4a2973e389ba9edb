"""The apt hook for real: apt-get and python-apt runs in Debian 12 and 13 roots, the built .deb
installed, backups made on the local cloud. Small test packages are built with dpkg-deb."""

import contextlib
import json
import os
import time

import pytest

from aptlab import CONF, build_test_package, built_deb, publish
from cloud_fixtures import STATE, named_snapshots, read_state

ROOT_NAME = "hook"          # the root fixture (conftest.py): build/roots/hook-<suite>


@pytest.fixture(scope="module")
def root(root, tmp_path_factory):
    """conftest.py's root, with the test packages built and an empty local repository."""
    packages = tmp_path_factory.mktemp("debs")
    debs = [build_test_package(str(packages), "nsh-hello", "1.0-1"),
            build_test_package(str(packages), "nsh-hello", "2.0-1"),
            build_test_package(str(packages), "nsh-other", "1.0-1"),
            build_test_package(str(packages), "nsh-step-a", "1.0-1"),
            build_test_package(str(packages), "nsh-step-b", "1.0-1"),
            build_test_package(str(packages), "nsh-broken", "1.0-1", postinst_exit=3)]
    root.debs = {os.path.basename(d): d for d in debs}
    publish(root, [])          # an empty local repository for now; tests add what they need
    return root


@pytest.fixture
def hook(root, admin, minicloud):
    """A configured root whose test server has no images, and a helper to read them."""
    root.configure()
    root.run("rm", "-rf", "/run/nova-snapshot-hook")
    admin.wait_idle(minicloud["server"])
    admin.delete_server_images(minicloud["server"])

    def images():
        """Oldest first: by created_at (whole seconds), then by the tool's nsh_requested."""
        admin.wait_idle(minicloud["server"])
        return sorted(admin.images(instance_uuid=minicloud["server"]),
                      key=lambda image: (image["created_at"], image.get("nsh_requested", "")))
    root.images = images
    yield root
    root.run("sh", "-c", "dpkg -P nsh-hello nsh-other nsh-step-a nsh-step-b nsh-broken || true")
    admin.delete_server_images(minicloud["server"])


def copy_in(root, name):
    path = f"/tmp/{name}"
    with open(root.file(path), "wb") as handle, open(root.debs[name], "rb") as source:
        handle.write(source.read())
    return path


def install_file(root, name):
    """apt-get install of a local .deb file: apt runs its hooks for it like for any package."""
    return root.apt("install", copy_in(root, name))


def only_apt_image(images):
    assert len(images) == 1, [image["name"] for image in images]
    return images[0]


def test_install_makes_a_backup_named_after_the_change_before_dpkg_runs(hook):
    result = install_file(hook, "nsh-hello_1.0-1_all.deb")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Start OpenStack snapshot before apt changes packages: install nsh-hello 1.0-1" in result.stdout
    assert "SUCCESS: nova-snapshot-hook: Backup image" in result.stdout
    # The hook's lines come before dpkg's unpacking line: the backup preceded the change.
    assert result.stdout.index("SUCCESS: nova-snapshot-hook") < result.stdout.index("Unpacking nsh-hello")
    image = only_apt_image(hook.images())
    assert "-apt-" in image["name"] and image["name"].endswith("-install-nsh-hello-1.0-1")
    assert image["backup_type"] == "apt" and image["image_type"] == "backup"
    assert image["nsh_trigger"] == "apt" and image["nsh_changes"] == "install nsh-hello 1.0-1"
    assert image["nsh_change_01"] == "install nsh-hello 1.0-1"
    assert image["nsh_frontend"] == "apt-get"
    # Post-Invoke wrote the outcome after dpkg.
    assert image["nsh_outcome"] == "succeeded"
    assert hook.installed_version("nsh-hello") == "1.0-1"


def test_upgrade_and_remove_each_name_their_change(hook):
    assert install_file(hook, "nsh-hello_1.0-1_all.deb").returncode == 0
    upgrade = install_file(hook, "nsh-hello_2.0-1_all.deb")
    assert upgrade.returncode == 0, upgrade.stderr
    remove = hook.apt("remove", "nsh-hello")
    assert remove.returncode == 0, remove.stderr
    first, second, third = hook.images()
    assert all(image.get("nsh_requested") for image in (first, second, third)), \
        "the installed .deb predates nsh_requested: make deb"
    assert second["name"].endswith("-upgrade-nsh-hello-2.0-1")
    assert second["nsh_changes"] == "upgrade nsh-hello 1.0-1 -> 2.0-1"
    assert third["name"].endswith("-remove-nsh-hello-2.0-1")
    assert third["nsh_outcome"] == "succeeded"


def test_a_failing_dpkg_run_is_recorded_on_its_backup(hook):
    result = install_file(hook, "nsh-broken_1.0-1_all.deb")
    assert result.returncode != 0
    image = only_apt_image(hook.images())
    assert image["nsh_outcome"] == "failed", image.get("nsh_outcome")


def test_skip_option_and_skip_variable_make_no_image(hook):
    path = copy_in(hook, "nsh-other_1.0-1_all.deb")
    result = hook.apt("-o", "NovaSnapshotHook::Skip=true", "install", path)
    assert result.returncode == 0 and "skipped: NovaSnapshotHook::Skip=true" in result.stdout
    result = hook.run("env", "NOVA_SNAPSHOT_HOOK_SKIP=1", "apt-get", "-y", "remove", "nsh-other")
    assert result.returncode == 0 and "skipped: NOVA_SNAPSHOT_HOOK_SKIP=1" in result.stdout
    assert hook.images() == []


def test_a_filtered_out_run_makes_no_image(hook):
    hook.configure(apt="operations = upgrade remove\n")
    result = install_file(hook, "nsh-other_1.0-1_all.deb")
    assert result.returncode == 0
    assert "no snapshot: no change is an operation that triggers" in result.stdout
    hook.configure(apt="exclude = nsh-*\n")
    assert hook.apt("remove", "nsh-other").returncode == 0
    assert hook.images() == []


def test_unattended_upgrades_steps_make_one_image(hook):
    publish(hook, [hook.debs["nsh-step-a_1.0-1_all.deb"], hook.debs["nsh-step-b_1.0-1_all.deb"]])
    # A python-apt frontend that commits once per package, as unattended-upgrades does with
    # MinimalSteps, and says who it is the way unattended-upgrades does.
    script = (
        "import apt, apt_pkg\n"
        "apt_pkg.config.set('CommandLine::AsString', '/usr/bin/unattended-upgrade -v')\n"
        "for name in ('nsh-step-a', 'nsh-step-b'):\n"
        "    cache = apt.Cache()\n"
        "    cache[name].mark_install()\n"
        "    cache.commit()\n")
    hook.write("/tmp/steps.py", script)
    result = hook.run("python3", "/tmp/steps.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hook.installed_version("nsh-step-b") == "1.0-1"
    image = only_apt_image(hook.images())
    assert image["name"].endswith("-install-nsh-step-a-1.0-1")
    assert image["nsh_frontend"] == "unattended-upgrade"
    assert "same unattended-upgrades run" in result.stdout
    # The later step's change is recorded on the one backup that precedes both.
    assert image["nsh_later_01"] == "install nsh-step-b 1.0-1"


def test_with_the_cloud_down_apt_completes_and_warns(hook):
    dead = read_state("appcred-openrc").replace("127.0.0.1:5000", "127.0.0.1:9")
    hook.configure(credentials=dead + "\n")
    result = install_file(hook, "nsh-hello_1.0-1_all.deb")
    assert result.returncode == 0
    assert "WARNING: nova-snapshot-hook: no backup image before this apt run" in result.stderr
    assert "apt goes on" in result.stderr
    assert hook.installed_version("nsh-hello") == "1.0-1"


def test_strict_mode_aborts_apt_before_dpkg(hook):
    dead = read_state("appcred-openrc").replace("127.0.0.1:5000", "127.0.0.1:9")
    hook.configure(credentials=dead + "\n", apt="strict = yes\n")
    result = install_file(hook, "nsh-hello_1.0-1_all.deb")
    assert result.returncode != 0
    assert "ERROR: nova-snapshot-hook: no backup image before this apt run" in result.stderr
    assert "Strict mode" in result.stderr
    assert hook.installed_version("nsh-hello") is None
    # The Require option asks for the same on one run only.
    hook.configure(credentials=dead + "\n")
    result = hook.apt("-o", "NovaSnapshotHook::Require=true", "install", "/tmp/nsh-hello_1.0-1_all.deb")
    assert result.returncode != 0 and hook.installed_version("nsh-hello") is None


def test_remove_without_purge_leaves_apt_working_and_purge_removes_the_conffile(hook):
    removed = hook.apt("remove", "nova-snapshot-hook")
    assert removed.returncode == 0, removed.stderr
    try:
        assert os.path.exists(hook.file("/etc/apt/apt.conf.d/80nova-snapshot-hook"))
        result = install_file(hook, "nsh-hello_1.0-1_all.deb")
        assert result.returncode == 0, result.stderr
        assert hook.installed_version("nsh-hello") == "1.0-1"
        assert hook.apt("purge", "nova-snapshot-hook").returncode == 0
        assert not os.path.exists(hook.file("/etc/apt/apt.conf.d/80nova-snapshot-hook"))
        assert not os.path.exists(hook.file(CONF + "/credentials"))
        assert hook.apt("remove", "nsh-hello").returncode == 0
    finally:
        with open(hook.file("/tmp/nsh.deb"), "wb") as handle, open(built_deb(), "rb") as source:
            handle.write(source.read())
        assert hook.apt("install", "/tmp/nsh.deb").returncode == 0


def state_value(key):
    for line in read_state("env").splitlines():
        if line.startswith(key + "="):
            return line.split("=", 1)[1]
    pytest.fail(f"{key} is not in the local cloud's env file")


def test_a_volume_backed_server_gets_an_image_with_its_volume_snapshot(root, admin):
    """The root configured as the boot-from-volume server: Nova refuses createBackup, the hook
    takes createImage, Cinder snapshots the root volume, and the backup names the change."""
    from keystoneauth1 import adapter
    server = state_value("MINICLOUD_BFV_SERVER_ID")
    cinder = adapter.Adapter(admin.glance.session, service_type="block-storage",
                             interface="public")

    def clean():
        admin.wait_idle(server)
        for image in admin.images(nsh_server=server):       # Nova gives these no instance_uuid
            for snapshot_id in named_snapshots(image):
                cinder.delete(f"/snapshots/{snapshot_id}", raise_exc=False)
            admin.glance.delete(f"/v2/images/{image['id']}")

    with configured_as(root, server, clean, "nsh-other"):
        result = install_file(root, "nsh-other_1.0-1_all.deb")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "WARNING" not in result.stdout + result.stderr
        images = admin.images(nsh_server=server)
        assert len(images) == 1, [image["name"] for image in images]
        image = images[0]
        assert image["name"].endswith("-install-nsh-other-1.0-1")
        assert image["nsh_method"] == "createImage" and image["nsh_series"] == "apt"
        assert image["nsh_outcome"] == "succeeded"
        snapshots = named_snapshots(image)
        assert len(snapshots) == 1
        listed = root.run("nova-snapshot-hook", "list")
        assert f"volume snapshot {snapshots[0]} available" in listed.stdout, listed.stdout


@contextlib.contextmanager
def configured_as(root, server, clean, package):
    """The root's settings name `server`, with no backups of it before and after; `package` is
    purged at the end."""
    root.configure(server=server)
    root.run("rm", "-rf", "/run/nova-snapshot-hook")
    clean()
    try:
        yield
    finally:
        root.run("sh", "-c", f"dpkg -P {package} || true")
        clean()
        root.configure()


def test_the_real_guest_gets_a_backup_named_after_the_change(root, admin):
    """The root configured as the real QEMU guest (MINICLOUD_COMPUTE=libvirt): the hook's backup
    is a real disk image, captured before dpkg ran, named after the change."""
    if not os.path.exists(os.path.join(STATE, "run", "nova-compute-libvirt.pid")):
        if os.environ.get("NSH_REQUIRE_GUEST") == "1":
            pytest.fail("the local cloud runs no real guest (MINICLOUD_COMPUTE=libvirt)")
        pytest.skip("no real guest: MINICLOUD_COMPUTE=libvirt minicloud/up starts one")
    server = read_state("guest_server_id")

    def clean():
        admin.wait_idle(server, timeout=300)
        for image in admin.images(instance_uuid=server):
            if image.get("nsh_series") == "apt":
                admin.glance.delete(f"/v2/images/{image['id']}")

    with configured_as(root, server, clean, "nsh-step-a"):
        result = install_file(root, "nsh-step-a_1.0-1_all.deb")
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.index("SUCCESS: nova-snapshot-hook") < \
            result.stdout.index("Unpacking nsh-step-a")
        images = [i for i in admin.images(instance_uuid=server) if i.get("nsh_series") == "apt"]
        assert len(images) == 1
        image = images[0]
        assert image["name"].endswith("-install-nsh-step-a-1.0-1")
        assert image["backup_type"] == "apt" and image["nsh_outcome"] == "succeeded"
        end = time.monotonic() + 300
        while image["status"] != "active" and time.monotonic() < end:
            time.sleep(1)
            image = admin.glance.get(f"/v2/images/{image['id']}").json()
        assert image["status"] == "active" and image["size"] > 10 * 2 ** 20   # a real disk


def test_the_apt_hook_works_under_a_credential_made_from_its_own_access_rules(hook, admin,
                                                                               minicloud):
    """Least privilege for real: inside the root, the installed program prints its rules; an
    application credential made from exactly them backs up before apt, and list and check work."""
    import datetime
    import uuid

    import requests

    from test_access_rules_cloud import KEYSTONE, MEMBER, demo_token
    printed = hook.run("nova-snapshot-hook", "access-rules")
    assert printed.returncode == 0, printed.stderr
    rules = json.loads(printed.stdout)
    token, user_id = demo_token()
    body = {"application_credential": {
        "name": f"nsh-e2e-{uuid.uuid4().hex[:8]}", "access_rules": rules, "roles": MEMBER,
        "expires_at": (datetime.datetime.utcnow() + datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%M:%S")}}
    made = requests.post(f"{KEYSTONE}/users/{user_id}/application_credentials", json=body,
                         headers={"X-Auth-Token": token}, timeout=30)
    assert made.status_code == 201, made.text
    credential = made.json()["application_credential"]
    try:
        hook.configure(credentials=(
            "export OS_AUTH_TYPE=v3applicationcredential\n"
            f"export OS_AUTH_URL={KEYSTONE}\n"
            f"export OS_APPLICATION_CREDENTIAL_ID={credential['id']}\n"
            f"export OS_APPLICATION_CREDENTIAL_SECRET={credential['secret']}\n"
            "export OS_REGION_NAME=RegionOne\nexport OS_INTERFACE=public\n"))
        result = install_file(hook, "nsh-hello_1.0-1_all.deb")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "WARNING" not in result.stdout + result.stderr
        image = only_apt_image(hook.images())
        assert image["name"].endswith("-install-nsh-hello-1.0-1")
        assert image["nsh_outcome"] == "succeeded"          # apt-post-invoke under the rules too
        listed = hook.run("nova-snapshot-hook", "list")
        assert listed.returncode == 0 and image["id"] in listed.stdout, listed.stderr
        checked = hook.run("nova-snapshot-hook", "check")
        assert "OK: access rules: application credential" in checked.stdout, checked.stdout
        assert credential["secret"] not in result.stdout + result.stderr + checked.stdout
    finally:
        requests.delete(f"{KEYSTONE}/users/{user_id}/application_credentials/{credential['id']}",
                        headers={"X-Auth-Token": token}, timeout=30)
        hook.configure()
