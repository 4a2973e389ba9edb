"""`nova-snapshot-hook snapshot` against real Keystone, Glance and Nova (fake virt driver)."""

import json
import threading
import time

from cloud_fixtures import openrc_vars, random_uuid, read_state, through


def names(images):
    return sorted(image["name"] for image in images)


def snapshot(tool, *args):
    result = tool("snapshot", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_three_backups_with_rotation_2_keep_the_two_newest_of_that_series_only(tool, admin, minicloud):
    server, server2 = minicloud["server"], minicloud["server2"]
    weekly = snapshot(tool, "weekly", "1", "--name", "keep-weekly")
    tool.write_settings(server=server2)
    admin.wait_idle(server2)
    admin.delete_server_images(server2)
    other_server = snapshot(tool, "daily", "1", "--name", "keep-other-server")
    tool.write_settings(server=server)
    made = []
    for n in range(3):
        time.sleep(1.1)                           # Glance's created_at has 1 s resolution
        made.append(snapshot(tool, "daily", "2", "--name", f"daily-{n}", "--wait", "active"))
    admin.wait_idle(server)
    time.sleep(1)                                 # Nova rotates right after task_state is reset
    assert names(admin.backups(server, "daily")) == ["daily-1", "daily-2"]
    assert [image["id"] for image in admin.backups(server, "weekly")] == [weekly["image_id"]]
    assert [image["id"] for image in admin.backups(server2, "daily")] == [other_server["image_id"]]
    assert all(r["method"] == "createBackup" and r["state"] == "active" for r in made)
    image = admin.glance.get(f"/v2/images/{made[-1]['image_id']}").json()
    assert image["nsh_server"] == server and image["nsh_series"] == "daily"
    assert image["image_type"] == "backup" and image["backup_type"] == "daily"
    admin.wait_idle(server2)
    admin.delete_server_images(server2)


def test_default_call_is_a_manual_backup_with_rotation_7_and_prints_the_article_lines(tool, admin,
                                                                                       minicloud):
    result = tool("snapshot")
    assert result.returncode == 0, result.stderr
    assert "INFO: Start OpenStack snapshot creation" in result.stdout
    success = [line for line in result.stdout.splitlines() if line.startswith("SUCCESS: ")]
    assert len(success) == 1 and "rotation 7" in success[0] and " s;" in success[0]
    [image] = admin.backups(minicloud["server"], "manual")
    assert image["id"] in success[0] and image["name"] in success[0]
    assert image["status"] in ("saving", "active")


def test_create_image_path_rotates_only_our_own_images(tool, admin, minicloud):
    server = minicloud["server"]
    foreign = admin.nova.servers.create_image(server, "foreign-snapshot")
    admin.wait_idle(server)
    tool.write_settings(extra="method = image\n")   # [snapshot] method, appended to that section
    made = []
    for n in range(3):     # our rotation orders one second's backups by nsh_requested: no spacing
        made.append(snapshot(tool, "monthly", "2", "--name", f"img-{n}", "--wait", "active"))
    assert all(r["method"] == "createImage" for r in made)
    assert made[2]["rotated"] == [made[0]["image_id"]]
    ours = admin.images(instance_uuid=server, nsh_series="monthly")
    assert names(ours) == ["img-1", "img-2"]
    assert admin.glance.get(f"/v2/images/{foreign}").json()["name"] == "foreign-snapshot"


def test_a_running_snapshot_is_waited_out_instead_of_failing(tool, admin, control, minicloud):
    server = minicloud["server"]
    control("hold_seconds", 4)
    admin.nova.servers.backup(server, "held-by-someone-else", "other", 1)
    started = time.monotonic()
    result = tool("snapshot", "daily", "2", "--name", "after-the-wait")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 2.5
    assert names(admin.backups(server, "daily")) == ["after-the-wait"]


def test_concurrent_runs_on_one_host_are_serialised_by_the_lock(tool, admin, control, minicloud):
    control("hold_seconds", 2)
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(
        tool("snapshot", "daily", "3", "--name", f"parallel-{n}"))) for n in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(1.1)
    for thread in threads:
        thread.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert names(admin.backups(minicloud["server"], "daily")) == ["parallel-0", "parallel-1"]


def test_capture_timeout_fails_and_marks_the_image(tool, admin, control, minicloud):
    control("hold_seconds", 15)
    result = tool("snapshot", "daily", "2", "--timeout", "3")
    assert result.returncode == 1
    assert result.stderr.count("ERROR:") == 1 and "not captured" in result.stderr
    [image] = admin.backups(minicloud["server"], "daily")
    assert image["nsh_capture"] == "not-guaranteed"


def test_failed_backup_deletes_only_the_new_image(tool, admin, control, minicloud):
    kept = snapshot(tool, "daily", "3", "--name", "good-one", "--wait", "active")
    control("fail_next")
    result = tool("snapshot", "daily", "3", "--name", "doomed")
    assert result.returncode == 1 and "failed" in result.stderr, result.stderr
    admin.wait_idle(minicloud["server"])
    assert [image["id"] for image in admin.backups(minicloud["server"], "daily")] == [kept["image_id"]]


def test_application_credential_works(tool, admin, minicloud):
    tool.credentials.write_text(read_state("appcred-openrc") + "\n")
    snapshot(tool, "daily", "2")
    assert len(admin.backups(minicloud["server"], "daily")) == 1


def test_wrong_password_gives_one_line_naming_the_file_and_no_secret(tool, admin, minicloud):
    secret = "Wr0ng-Secret-Value"
    env = openrc_vars("openrc")
    tool.credentials.write_text(read_state("openrc").replace(env["OS_PASSWORD"], secret) + "\n")
    result = tool("-vv", "snapshot", "daily", "2")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "401" in errors[0] and str(tool.credentials) in errors[0]
    assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert admin.backups(minicloud["server"], "daily") == []


def test_unreachable_endpoint_is_one_clear_line(tool):
    text = tool.credentials.read_text()
    tool.credentials.write_text(text.replace(openrc_vars("openrc")["OS_AUTH_URL"],
                                             "http://127.0.0.1:9/v3"))
    result = tool("snapshot", "--timeout", "20")
    assert result.returncode == 1
    assert "cannot reach 127.0.0.1:9 (connection refused)" in result.stderr
    assert "OS_AUTH_URL" in result.stderr and "object at 0x" not in result.stderr
    assert result.stderr.count("ERROR:") == 1 and "Traceback" not in result.stderr


def test_tls_failure_is_one_line_naming_the_ca_setting(tool):
    text = tool.credentials.read_text()
    tool.credentials.write_text(text.replace("http://127.0.0.1:5000", "https://127.0.0.1:5000"))
    result = tool("snapshot", "--timeout", "20")
    assert result.returncode == 1
    assert "TLS" in result.stderr and "OS_CACERT" in result.stderr
    assert result.stderr.count("ERROR:") == 1 and "Traceback" not in result.stderr


def test_wrong_server_id_is_refused_before_any_write(tool, admin, minicloud):
    tool.write_settings(server=random_uuid())
    result = tool("snapshot")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "[server] id" in result.stderr
    assert admin.images(instance_uuid=minicloud["server"]) == []


def test_another_projects_server_is_not_found(tool, minicloud):
    tool.write_settings(server=minicloud["other_server"])
    result = tool("snapshot")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_dry_run_prints_the_request_and_sends_nothing(tool, admin, minicloud):
    tool.credentials.write_text("export OS_AUTH_URL=http://127.0.0.1:9/v3\n")
    result = tool("snapshot", "weekly", "4", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    call = json.loads(result.stdout)
    assert call["path"] == f"/servers/{minicloud['server']}/action"
    assert call["body"]["createBackup"]["rotation"] == 4
    assert call["body"]["createBackup"]["backup_type"] == "weekly"
    assert admin.images(instance_uuid=minicloud["server"]) == []


TOKEN_REQUEST = ("POST", "/identity/v3/auth/tokens")    # Keystone's, as the proxy forwards it


def forwarded(proxy):
    """(method, path) of each request the loopback proxy forwarded since the last call."""
    seen = list(proxy.log)
    proxy.clear()
    return seen


def test_a_cached_token_saves_the_token_request_and_a_401_is_healed(tool, admin, minicloud,
                                                                    proxy):
    through(proxy, tool)           # the requests are counted where they arrive: at the proxy
    first = tool("-vv", "snapshot", "daily", "3")
    assert first.returncode == 0, first.stderr
    assert forwarded(proxy).count(TOKEN_REQUEST) == 1
    [cache] = list(tool.state.glob("token-*"))
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    token = json.loads(cache.read_text())["auth_token"]
    assert token not in first.stdout + first.stderr          # the token never reaches output
    second = tool("-vv", "snapshot", "daily", "3")
    assert second.returncode == 0, second.stderr
    seen = forwarded(proxy)
    assert TOKEN_REQUEST not in seen, seen
    assert any(path.startswith("/compute/") for _, path in seen), seen   # it did go through
    # A token the cloud no longer accepts: keystoneauth gets a 401, authenticates again.
    state = json.loads(cache.read_text())
    state["auth_token"] = "gAAAAA-not-a-valid-token"
    cache.write_text(json.dumps(state))
    third = tool("-vv", "snapshot", "daily", "3")
    assert third.returncode == 0, third.stderr
    seen = forwarded(proxy)
    assert seen.count(TOKEN_REQUEST) == 1, seen
    assert seen.index(TOKEN_REQUEST) > 0, seen      # the cached token was sent first, and refused
    assert json.loads(cache.read_text())["auth_token"] != "gAAAAA-not-a-valid-token"
    assert len(admin.backups(minicloud["server"], "daily")) == 3
