"""list, show, restore, prune, status and check: the real CLI against the local cloud.

These tests boot a server of their own and delete it at the end, so a rebuild, a prune or a
clean-up never touches minicloud-vm and minicloud-vm2, which the other tests snapshot. Backups
that look like the apt hook's come from the hook itself (apt's stream on its InfoFD, then
apt-post-invoke), scheduled-looking ones from `snapshot` plus the trigger property the
`scheduled` command sets. Nothing here may print a secret: every output is checked.
"""

import json
import re
import time
import uuid
from pathlib import Path

import pytest

from cloud_fixtures import openrc_vars, read_state
from runners import CONFIG, REPO, run_cli, run_hook

STREAM = Path(REPO) / "tests" / "fixtures" / "apt-hook" / "bookworm-unattended-upgrades-step.txt"
SHIPPED_APT_CONF = Path(REPO) / "etc" / "apt" / "apt.conf.d" / "80nova-snapshot-hook"
IMAGE_PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def wait_for(admin, server_id, predicate, timeout=90):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        server = admin.nova.servers.get(server_id)
        if predicate(server):
            return server
        time.sleep(0.3)
    raise AssertionError(f"server {server_id} did not get there: {server.status}")


def settled(server):
    return server.status in ("ACTIVE", "ERROR") and \
        getattr(server, "OS-EXT-STS:task_state") is None


def patch_image(admin, image_id, **values):
    admin.glance.patch(f"/v2/images/{image_id}", headers=IMAGE_PATCH,
                       json=[{"op": "replace" if key == "protected" else "add",
                              "path": "/" + key, "value": value} for key, value in values.items()])


def image_of(admin, image_id):
    return admin.glance.get(f"/v2/images/{image_id}").json()


def remove_images(admin, server_id):
    for image in admin.images(instance_uuid=server_id):
        if image.get("protected"):
            patch_image(admin, image["id"], protected=False)
        admin.glance.delete(f"/v2/images/{image['id']}")


def delete_server(admin, server_id):
    from novaclient import exceptions
    try:
        admin.nova.servers.delete(server_id)
    except exceptions.NotFound:
        return
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            admin.nova.servers.get(server_id)
        except exceptions.NotFound:
            return
        time.sleep(0.3)


@pytest.fixture(scope="module")
def own_server(minicloud, admin):
    flavor = admin.nova.flavors.find(name="minicloud.tiny")
    server = admin.nova.servers.create(f"nsh-inventory-{uuid.uuid4().hex[:8]}",
                                       read_state("image_id"), flavor, nics="none")
    try:
        wait_for(admin, server.id, lambda s: s.status == "ACTIVE")
        yield server.id
    finally:
        admin.wait_idle(server.id)
        remove_images(admin, server.id)
        delete_server(admin, server.id)


SECRETS = []


def secrets():
    if not SECRETS:
        SECRETS.append(openrc_vars("openrc")["OS_PASSWORD"])
        SECRETS.append(openrc_vars("appcred-openrc")["OS_APPLICATION_CREDENTIAL_SECRET"])
    return SECRETS


def assert_no_secret(result):
    text = result.stdout + result.stderr
    for secret in secrets():
        assert secret not in text
    assert "gAAAAA" not in text            # a Keystone (Fernet) token
    assert "Traceback" not in text


@pytest.fixture
def nsh(tmp_path, own_server, admin):
    """The real CLI for our own server, its settings and credentials under tmp_path, its state
    (attempts included) under tmp_path/host, its NOVA_SNAPSHOT_HOOK_ROOT. `nsh.settings(extra)`
    rewrites the settings; `extra` is INI text appended."""
    root = tmp_path / "root"
    root.mkdir()
    credentials = tmp_path / "credentials"
    credentials.write_text(read_state("openrc") + "\n")
    credentials.chmod(0o600)
    conf = tmp_path / "nova-snapshot-hook.conf"
    host = tmp_path / "host"

    def settings(extra=""):
        conf.write_text(f"[cloud]\ncredentials = {credentials}\n[server]\nid = {own_server}\n"
                        f"identity_root = {root}\nmetadata_url =\n[snapshot]\n"
                        f"lock = {tmp_path}/lock\ntimeout = 120\npoll_interval = 0.5\n"
                        f"[log]\nsyslog = no\n{extra}")

    def run(*args, timeout=180, extra_env=None):
        result = run_cli(*args, root=host, settings=conf, env=extra_env, timeout=timeout)
        assert_no_secret(result)
        return result

    def apt_hook(stream):
        """The apt hook as apt runs it, then apt-post-invoke as DPkg::Post-Invoke does."""
        hook = run_hook(stream, root=host, settings=conf, timeout=180)
        assert hook.returncode == 0 and "captured" in hook.stdout, hook.stdout + hook.stderr
        after = run_cli("apt-post-invoke", root=host, env={CONFIG: str(conf)}, inherit=False,
                        timeout=120)
        assert after.returncode == 0 and "the apt run that followed it" in after.stdout, \
            after.stdout + after.stderr
        return hook.stdout + after.stdout

    run.settings, run.apt_hook, run.credentials = settings, apt_hook, credentials
    run.attempts = tmp_path / "host" / "var" / "lib" / "nova-snapshot-hook" / "attempts"
    settings()
    admin.wait_idle(own_server)
    remove_images(admin, own_server)
    yield run
    admin.wait_idle(own_server)
    remove_images(admin, own_server)


def snapshot(nsh, series, rotation="10", *more):
    result = nsh("snapshot", series, rotation, "--wait", "active", "--json", *more)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["image_id"]


def scheduled_looking(nsh, admin, tier):
    image_id = snapshot(nsh, tier)
    patch_image(admin, image_id, nsh_trigger="schedule")
    return image_id


def apt_backup(nsh, admin, own_server):
    nsh.apt_hook(STREAM.read_bytes())
    [image] = admin.images(instance_uuid=own_server, nsh_series="apt")
    return image["id"]


# -- list and show ------------------------------------------------------------------------------
def test_list_shows_apt_and_scheduled_backups_newest_first_with_the_change_and_its_outcome(
        nsh, admin, own_server):
    apt = apt_backup(nsh, admin, own_server)
    weekly = scheduled_looking(nsh, admin, "weekly")
    result = nsh("list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line for line in lines if UUID.search(line)]
    assert [UUID.search(row).group(0) for row in rows] == [weekly, apt]
    assert rows[0].split()[2:4] == ["weekly", "active"] and rows[1].split()[2] == "apt"
    below_apt = lines[lines.index(rows[1]) + 1].strip()
    assert below_apt == "before: upgrade acc-c 1.0-1 -> 2.0-1 -> failed"   # acc-c is not installed

    records = json.loads(nsh("list", "--json").stdout)
    assert [r["id"] for r in records] == [weekly, apt]
    assert records[0]["trigger"] == "schedule" and records[0]["changes"] is None
    assert records[1]["trigger"] == "apt" and records[1]["outcome"] == "failed"
    assert records[1]["change_list"] == ["upgrade acc-c 1.0-1->2.0-1"]
    assert all(r["ours"] and r["capture_guaranteed"] and not r["protected"] for r in records)


def test_list_includes_novas_own_backups_and_marks_protected_and_not_guaranteed_images(
        nsh, admin, own_server):
    ours = snapshot(nsh, "daily")
    time.sleep(1.1)     # Nova's own backup has no nsh_requested: created_at alone orders the two
    admin.nova.servers.backup(own_server, "by-someone-else", "other", 3)
    admin.wait_idle(own_server)
    patch_image(admin, ours, protected=True, nsh_capture="not-guaranteed")
    result = nsh("list")
    row = next(line for line in result.stdout.splitlines() if ours in line)
    assert " P! " in row
    assert any(line.startswith("P: protected") for line in result.stdout.splitlines())
    assert any(line.startswith("!: capture not guaranteed") for line in result.stdout.splitlines())
    foreign = next(line for line in result.stdout.splitlines() if "by-someone-else" in line)
    assert foreign.split()[2] == "other"
    assert not json.loads(nsh("list", "--json").stdout)[0]["ours"]


def test_show_by_exact_name_gives_the_change_its_outcome_and_every_property(nsh, admin,
                                                                             own_server):
    apt = apt_backup(nsh, admin, own_server)
    glance_view = image_of(admin, apt)
    result = nsh("show", glance_view["name"])
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"image          {glance_view['name']} ({apt})" in text
    assert "before         upgrade acc-c 1.0-1 -> 2.0-1" in text
    assert "apt outcome    failed" in text and "trigger        apt" in text
    assert f"server         {own_server} (this server)" in text
    shown = {line.split()[0] for line in text.split("Fields and properties:")[1].splitlines()
             if line.strip()}
    assert shown == set(glance_view)
    assert json.loads(nsh("show", apt, "--json").stdout) == glance_view


def test_show_of_an_unknown_image_is_one_clear_line(nsh):
    result = nsh("show", "no-such-image-name")
    assert result.returncode == 2
    assert result.stderr.count("ERROR:") == 1 and "no image named 'no-such-image-name'" in \
        result.stderr


# -- restore ------------------------------------------------------------------------------------
def test_rebuild_without_yes_explains_what_is_lost_and_changes_nothing(nsh, admin, own_server):
    image_id = snapshot(nsh, "daily")
    admin.wait_idle(own_server)     # Glance says active a moment before Nova ends the task
    result = nsh("restore", image_id, "--rebuild")
    assert result.returncode == 2
    assert "EVERYTHING WRITTEN SINCE" in result.stdout and "--yes" in result.stderr
    assert image_of(admin, image_id)["protected"] is False
    assert admin.nova.servers.get(own_server).image["id"] == read_state("image_id")


def test_rebuild_puts_this_server_on_the_backup_and_protects_it_from_rotation(nsh, admin,
                                                                              own_server):
    image_id = snapshot(nsh, "daily")
    admin.wait_idle(own_server)     # Glance says active a moment before Nova ends the task
    result = nsh("restore", image_id, "--rebuild", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"openstack image set --unprotected {image_id}" in result.stdout
    server = wait_for(admin, own_server, settled)
    assert server.image["id"] == image_id and server.status == "ACTIVE"
    assert image_of(admin, image_id)["protected"] is True
    # Nova's rotation (rotation 1) and prune (keep 1) both leave the protected image alone.
    time.sleep(1.1)     # Nova's rotation orders by created_at (whole seconds) alone
    newer = snapshot(nsh, "daily", "1")
    admin.wait_idle(own_server)
    time.sleep(1)
    ids = {image["id"] for image in admin.backups(own_server, "daily")}
    assert image_id in ids and newer in ids
    nsh.settings("[schedule]\ndaily = 1\n")
    assert nsh("prune", "--delete").returncode == 0
    assert image_of(admin, image_id)["protected"] is True


def test_rebuild_from_an_image_of_no_server_is_refused_unless_forced(nsh, admin, own_server):
    base = read_state("image_id")
    result = nsh("restore", base, "--rebuild", "--yes")
    assert result.returncode == 2 and "belongs to no server" in result.stderr
    forced = nsh("restore", base, "--rebuild", "--force", "--dry-run")
    assert forced.returncode == 0, forced.stderr
    assert f"POST <compute>/servers/{own_server}/action" in forced.stdout
    assert f'"imageRef": "{base}"' in forced.stdout
    assert admin.nova.servers.get(own_server).status == "ACTIVE"


def test_new_server_dry_run_prints_the_calls_and_creates_nothing(nsh, admin, own_server):
    image_id = snapshot(nsh, "daily")
    name = f"nsh-dry-{uuid.uuid4().hex[:8]}"
    result = nsh("restore", image_id, "--new", name, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"PATCH <image>/v2/images/{image_id}" in result.stdout
    assert "POST <compute>/servers  (OpenStack-API-Version: compute 2.45)" in result.stdout
    assert '"networks": "none"' in result.stdout
    assert not [s for s in admin.nova.servers.list() if s.name == name]
    assert image_of(admin, image_id)["protected"] is False


def test_new_server_boots_from_the_backup_with_this_servers_flavor_and_zone(nsh, admin,
                                                                            own_server):
    image_id = snapshot(nsh, "daily")
    name = f"nsh-restored-{uuid.uuid4().hex[:8]}"
    result = nsh("restore", image_id, "--new", name)
    new_id = None
    try:
        assert result.returncode == 0, result.stderr
        new_id = re.search(rf"Server {name} \(({UUID.pattern})\)", result.stdout).group(1)
        new, old = admin.nova.servers.get(new_id), admin.nova.servers.get(own_server)
        assert new.status == "ACTIVE" and new.image["id"] == image_id
        assert new.flavor["id"] == old.flavor["id"]
        assert getattr(new, "OS-EXT-AZ:availability_zone") == \
            getattr(old, "OS-EXT-AZ:availability_zone")
        assert image_of(admin, image_id)["protected"] is True
        assert "[server] id" in result.stderr      # the copy's settings name the old server
    finally:
        if new_id is None:
            new_id = next((s.id for s in admin.nova.servers.list() if s.name == name), None)
        if new_id:
            delete_server(admin, new_id)


# -- prune --------------------------------------------------------------------------------------
def test_prune_shows_what_it_would_delete_and_deletes_only_our_surplus(nsh, admin, own_server):
    dailies = [snapshot(nsh, "daily") for _ in range(4)]         # oldest first
    manual = snapshot(nsh, "manual")
    patch_image(admin, dailies[0], protected=True)
    # Someone restores the server from dailies[0] and takes a snapshot of it: Nova copies the
    # image's nsh_ properties onto that snapshot. It looks like ours; it must not count as ours.
    admin.nova.servers.rebuild(own_server, dailies[0])
    wait_for(admin, own_server, lambda s: settled(s) and s.image["id"] == dailies[0])
    foreign = admin.nova.servers.create_image(own_server, "foreign-snapshot")
    admin.wait_idle(own_server)
    assert image_of(admin, foreign)["nsh_series"] == "daily"
    assert next(r for r in json.loads(nsh("list", "--json").stdout)
                if r["id"] == foreign)["series"] == "snapshot"
    nsh.settings("[schedule]\ndaily = 2\n")

    dry = nsh("prune")
    assert dry.returncode == 0, dry.stderr
    assert "Series daily: keep 2 ([schedule] daily = 2); 4 active: delete 1." in dry.stdout
    assert "  delete  " in dry.stdout and f"({dailies[1]})" in dry.stdout
    assert "protected, kept" in dry.stdout and "add --delete" in dry.stdout
    assert len(admin.images(instance_uuid=own_server)) == 6

    real = nsh("prune", "--delete")
    assert real.returncode == 0, real.stderr
    left = {image["id"] for image in admin.images(instance_uuid=own_server)}
    assert left == {dailies[0], dailies[2], dailies[3], manual, foreign}
    again = nsh("prune")
    assert "nothing to delete" in again.stdout and "add --delete" not in again.stdout
    assert nsh("prune", "--keep", "1", "--series", "manual").stdout.count("delete  ") == 0


# -- status -------------------------------------------------------------------------------------
def status(nsh, *args):
    result = nsh("status", *args)
    assert "Traceback" not in result.stderr
    return result


def metrics(path):
    return dict(line.rsplit(" ", 1) for line in path.read_text().splitlines()
                if not line.startswith("#"))


def test_status_is_0_when_fresh_1_when_stale_and_2_when_the_last_attempt_failed(
        nsh, admin, control, own_server, tmp_path):
    nsh.settings("[schedule]\nweekly = 0\nmonthly = 0\nyearly = 0\n")
    prom = tmp_path / "nsh.prom"
    no_backup = status(nsh)
    assert no_backup.returncode == 1 and "no scheduled backup at all yet" in no_backup.stdout

    snapshot(nsh, "daily")
    fresh = status(nsh, "--prometheus", str(prom))
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert metrics(prom)['nova_snapshot_hook_last_attempt_success{series="daily"}'] == "1"
    assert metrics(prom)["nova_snapshot_hook_status"] == "0"

    later = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 3 * 86400))
    stale = status(nsh, "--at", later, "--prometheus", str(prom))
    assert stale.returncode == 1
    assert re.search(r"^daily .* stale: newest backup [23]d ", stale.stdout, re.M), stale.stdout
    assert metrics(prom)['nova_snapshot_hook_series_status{series="daily"}'] == "1"

    control("fail_next", key=own_server)      # its own server, not the worker's
    failed = nsh("snapshot", "daily", "10")
    assert failed.returncode == 1
    failing = status(nsh, "--prometheus", str(prom), "--json")
    report = json.loads(failing.stdout)
    assert failing.returncode == 2 and report["exit_status"] == 2
    daily = next(s for s in report["series"] if s["series"] == "daily")
    assert daily["verdict"] == "failing" and "failed" in daily["why"]
    assert metrics(prom)['nova_snapshot_hook_last_attempt_success{series="daily"}'] == "0"
    assert metrics(prom)["nova_snapshot_hook_status"] == "2"

    snapshot(nsh, "daily")
    assert status(nsh).returncode == 0


def test_status_that_cannot_reach_the_cloud_exits_3_and_says_so_in_the_metrics(nsh, tmp_path):
    nsh.credentials.write_text(nsh.credentials.read_text().replace(
        openrc_vars("openrc")["OS_AUTH_URL"], "http://127.0.0.1:9/v3"))
    prom = tmp_path / "nsh.prom"
    result = status(nsh, "--prometheus", str(prom))
    assert result.returncode == 3 and "cannot reach 127.0.0.1:9" in result.stderr     # UNKNOWN
    assert metrics(prom)["nova_snapshot_hook_cloud_up"] == "0"
    assert metrics(prom)["nova_snapshot_hook_status"] == "3"


# -- check --------------------------------------------------------------------------------------
@pytest.mark.parametrize("openrc", ["openrc", "appcred-openrc"])
def test_check_passes_every_check_with_good_credentials(nsh, own_server, openrc):
    nsh.credentials.write_text(read_state(openrc) + "\n")
    # The apt hook as the package registers it; the rest of apt's configuration is this host's.
    result = nsh("check", extra_env={"APT_CONFIG": str(SHIPPED_APT_CONF)})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    by_name = {line.split(":")[1].strip(): line for line in lines}
    # a password has no expiry: no line for it
    expiry = ["credential expiry"] if openrc == "appcred-openrc" else []
    assert [line.split(":")[1].strip() for line in lines] == [
        "settings", "apt hook", "credentials", "token", "server", "access rules", *expiry,
        "instance actions", "images", "volumes", "quiesce", "compute quota", "storage",
        "volume quota", "image quota"]
    # neither credential has access rules: a warning (test_access_rules_cloud.py has the rest)
    assert by_name["access rules"].startswith("WARN: access rules: ")
    # the fake driver's image asks for no guest agent (crash-consistent), or the server runs from
    # a backup that an earlier test of this module restored and deleted: a warning either way
    quiesce = by_name["quiesce"]
    assert quiesce.startswith("WARN: quiesce: ")
    assert "crash-consistent" in quiesce or "no longer exists" in quiesce
    assert all(line.startswith("OK: ") for line in lines
               if line not in (by_name["access rules"], quiesce))
    assert own_server in by_name["server"] and "not reported" in by_name["image quota"]
    assert by_name["volumes"] == "OK: volumes: none attached"
    assert by_name["volume quota"] == \
        "OK: volume quota: not needed: the server boots from an image"
    if expiry:      # minicloud's own credential was made without an expiry
        assert by_name["credential expiry"].startswith("OK: credential expiry: application "
                                                       "credential ") and \
            by_name["credential expiry"].endswith(" never expires")


def test_check_with_a_wrong_password_fails_the_token_and_skips_what_needs_it(nsh):
    wrong = "Wr0ng-Check-Secret"
    nsh.credentials.write_text(read_state("openrc").replace(openrc_vars("openrc")["OS_PASSWORD"],
                                                            wrong) + "\n")
    result = nsh("-vv", "check")
    assert result.returncode == 2          # Keystone refused the credentials: the user's to fix
    lines = [line for line in result.stdout.splitlines()         # -vv adds DEBUG lines
             if line.startswith(("OK: ", "FAIL: ", "SKIP: "))]
    lines = [line for line in lines if ": apt hook: " not in line]    # this host's apt
    assert lines[0].startswith("OK: settings") and lines[1].startswith("OK: credentials")
    assert lines[2].startswith("FAIL: token: ") and "401" in lines[2]
    assert all(line.startswith("SKIP: ") for line in lines[3:]) and len(lines) == 13
    assert wrong not in result.stdout + result.stderr
