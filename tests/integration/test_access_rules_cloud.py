"""Least privilege against the local cloud (issue 15): an application credential made from the
tool's own `access-rules` output runs everything it is for, and the cloud refuses the rest.

The credential is created as the demo user through Keystone's API; Nova, Glance and Cinder check
its rules with keystonemiddleware ([keystone_authtoken] service_type, minicloud/lib/configs.sh).
"""

import datetime
import json
import uuid

import pytest
import requests

from cloud_fixtures import openrc_vars, read_state
from runners import run_hook
from test_volume_backed_cloud import bfv, cinder

__all__ = ["bfv", "cinder"]  # fixtures (the volume-backed server) pytest finds here by name

KEYSTONE = "http://127.0.0.1:5000/v3"


def demo_token():
    env = openrc_vars("openrc")
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": env["OS_USERNAME"], "domain": {"name": "Default"}, "password": env["OS_PASSWORD"]}}},
        "scope": {"project": {"name": env["OS_PROJECT_NAME"], "domain": {"name": "Default"}}}}}
    answer = requests.post(f"{KEYSTONE}/auth/tokens", json=body, timeout=30)
    answer.raise_for_status()
    return answer.headers["X-Subject-Token"], answer.json()["token"]["user"]["id"]


def app_credential_token(credential_id, secret):
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": credential_id,
                                                             "secret": secret}}}}
    answer = requests.post(f"{KEYSTONE}/auth/tokens", json=body, timeout=30)
    answer.raise_for_status()
    return answer.headers["X-Subject-Token"]


@pytest.fixture
def make_credential(tool):
    """make_credential(rules) -> (id, secret): a demo application credential with these access
    rules, written as the tool's credentials file; deleted after the test."""
    token, user_id = demo_token()
    made = []

    def make(rules):
        expires = (datetime.datetime.utcnow() + datetime.timedelta(hours=2)).strftime(
            "%Y-%m-%dT%H:%M:%S")
        body = {"application_credential": {"name": f"nsh-test-{uuid.uuid4().hex[:8]}",
                                           "access_rules": rules, "expires_at": expires}}
        answer = requests.post(f"{KEYSTONE}/users/{user_id}/application_credentials", json=body,
                               headers={"X-Auth-Token": token}, timeout=30)
        assert answer.status_code == 201, answer.text
        credential = answer.json()["application_credential"]
        made.append(credential["id"])
        tool.credentials.write_text(
            "export OS_AUTH_TYPE=v3applicationcredential\n"
            f"export OS_AUTH_URL={KEYSTONE}\n"
            f"export OS_APPLICATION_CREDENTIAL_ID={credential['id']}\n"
            f"export OS_APPLICATION_CREDENTIAL_SECRET={credential['secret']}\n"
            "export OS_REGION_NAME=RegionOne\nexport OS_INTERFACE=public\n")
        return credential["id"], credential["secret"]

    make.user_id = user_id
    yield make
    for credential_id in made:
        requests.delete(f"{KEYSTONE}/users/{user_id}/application_credentials/{credential_id}",
                        headers={"X-Auth-Token": token}, timeout=30)


def printed_rules(tool, *args):
    result = tool("access-rules", *args)
    assert result.returncode == 0, result.stderr
    assert "openstack application credential create --access-rules" in result.stderr
    return json.loads(result.stdout)


def test_the_rules_name_this_server_and_leave_out_deletion_for_createbackup(tool, minicloud):
    rules = printed_rules(tool)
    compute = [rule["path"] for rule in rules if rule["service"] == "compute"]
    assert f"/v2.1/servers/{minicloud['server']}/action" in compute
    assert all(minicloud["server"] in path for path in compute if "/servers" in path)
    assert not any(rule["method"] == "DELETE" for rule in rules)
    assert not any(rule["service"] == "block-storage" for rule in rules)
    assert any(rule["method"] == "DELETE" for rule in printed_rules(tool, "--for", "prune"))
    tool.write_settings(extra="method = image\n")
    assert {"service": "image", "method": "DELETE", "path": "/v2/images/*"} in printed_rules(tool)


def test_everything_the_credential_is_for_works_under_its_rules(tool, make_credential,
                                                                minicloud, admin):
    make_credential(printed_rules(tool))
    for args in (("snapshot", "manual", "2"), ("snapshot", "manual", "2", "--wait", "active"),
                 ("scheduled", "--no-delay", "--tier", "daily"), ("list",), ("status",),
                 ("check",)):
        result = tool(*args)
        assert "access rules (HTTP 401" not in result.stdout + result.stderr, args
        assert "ERROR" not in result.stderr, (args, result.stderr)
        if args == ("status",):     # its exit code tells freshness: tiers never taken are stale
            assert result.returncode in (0, 1), result.stdout
            assert [line for line in result.stdout.splitlines() if line.startswith(
                ("daily", "manual")) and " ok" in line], result.stdout
        elif args == ("check",):    # this host's own apt configuration is not the point here
            lines = result.stdout.splitlines()
            assert len(lines) == 13 and all(line.startswith("OK: ") for line in lines
                                            if not line.startswith(("FAIL: apt hook:",
                                                                    "WARN: quiesce:"))), lines
        else:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert len(admin.backups(minicloud["server"], "manual")) == 2
    assert admin.backups(minicloud["server"], "daily")
    check = tool("check").stdout
    assert "OK: access rules: application credential" in check
    assert "OK: compute quota" in check and "OK: image quota" in check


def test_the_apt_hook_and_post_invoke_work_under_the_rules(tool, make_credential, minicloud,
                                                           admin):
    make_credential(printed_rules(tool))
    settings = tool.settings.parent / "hook.conf"
    settings.write_text(tool.settings.read_text().replace(
        "[log]", f"[cloud]\ncredentials = {tool.credentials}\n[log]")
        + "[apt]\nmin_interval = 0\nwait = 60\n")
    result = run_hook(root=tool.root, settings=settings)
    assert result.returncode == 0, result.stderr
    assert "access rules" not in result.stdout + result.stderr
    assert admin.backups(minicloud["server"], "apt")


def test_the_cloud_refuses_other_servers_and_new_servers(tool, make_credential, minicloud):
    credential_id, secret = make_credential(printed_rules(tool))
    token = app_credential_token(credential_id, secret)
    nova = "http://127.0.0.1:8774/v2.1"
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.45"}
    own = requests.get(f"{nova}/servers/{minicloud['server']}", headers=headers, timeout=30)
    assert own.status_code == 200          # the same token works where the rules allow
    refused = {
        "delete another server": requests.delete(f"{nova}/servers/{minicloud['server2']}",
                                                 headers=headers, timeout=30),
        "act on another server": requests.post(f"{nova}/servers/{minicloud['server2']}/action",
                                               json={"os-stop": None}, headers=headers,
                                               timeout=30),
        "read another server": requests.get(f"{nova}/servers/{minicloud['server2']}",
                                            headers=headers, timeout=30),
        "boot a server": requests.post(f"{nova}/servers", json={"server": {
            "name": "nsh-should-not-exist", "imageRef": read_state("image_id"),
            "flavorRef": "1", "networks": "none"}}, headers=headers, timeout=30),
        "list the project's servers": requests.get(f"{nova}/servers/detail", headers=headers,
                                                   timeout=30),
        "delete its own server": requests.delete(f"{nova}/servers/{minicloud['server']}",
                                                 headers=headers, timeout=30),
    }
    assert {what: answer.status_code for what, answer in refused.items()} == {
        what: 401 for what in refused}
    # Measured: Keystone (Zed) lets a restricted credential read its own record, rules and all
    # (check reads them from the token, which carries them too)
    itself = requests.get(f"{KEYSTONE}/users/{make_credential.user_id}/application_credentials/"
                          f"{credential_id}", headers=headers, timeout=30)
    assert itself.status_code == 200 and itself.json()["application_credential"]["access_rules"]
    assert "secret" not in itself.json()["application_credential"]


def test_restore_and_fleet_under_the_rules_name_the_rule_and_the_operator_credentials(
        tool, make_credential, minicloud):
    make_credential(printed_rules(tool))
    made = tool("snapshot", "manual", "2", "--json")
    assert made.returncode == 0, made.stderr
    image_id = json.loads(made.stdout)["image_id"]
    for args, rule, code in ((("restore", image_id, "--new", "nsh-restricted", "--yes"),
                              "compute GET /v2.1/servers/" + minicloud["server"] + "/os-interface",
                              1),
                             (("fleet", "status", "--all"), "compute GET /v2.1/servers/detail",
                              3)):        # fleet status: 3 is monitoring's UNKNOWN
        result = tool(*args)
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
        assert result.returncode == code and len(errors) == 1, (args, result.stderr)
        assert "not allowed by this credential's access rules" in errors[0], errors
        assert f"no rule {rule}" in errors[0] and "operator's credentials" in errors[0], errors
        assert "Traceback" not in result.stderr


def test_check_names_a_missing_rule_and_reports_a_refused_quota(tool, make_credential):
    rules = printed_rules(tool)
    trimmed = [rule for rule in rules if not rule["path"].endswith(("/os-instance-actions/*",
                                                                    "/limits"))]
    assert len(trimmed) == len(rules) - 2
    make_credential(trimmed)
    result = tool("check")
    assert result.returncode == 2          # a missing rule: the credential is the user's to fix
    line = next(line for line in result.stdout.splitlines() if "access rules:" in line)
    assert line.startswith("FAIL: access rules:") and "os-instance-actions/*" in line
    assert "compute GET /v2.1/limits" in line
    quota = next(line for line in result.stdout.splitlines() if "compute quota:" in line)
    assert quota.startswith("WARN:") and "not allowed by this credential's access rules" in quota
    assert "Traceback" not in result.stdout + result.stderr


def test_check_warns_for_unrestricted_credentials(tool, minicloud):
    for credentials, what in (("appcred-openrc", "has no access rules"),
                              ("openrc", "password credentials are not restricted")):
        tool.credentials.write_text(read_state(credentials) + "\n")
        result = tool("check")
        line = next(line for line in result.stdout.splitlines() if "access rules:" in line)
        assert line.startswith("WARN: access rules:") and what in line, line
        assert "whoever is root on this VM can act on every server and image of project demo" \
            in line
        assert "openstack application credential create --access-rules" in line
        assert minicloud["server"] in line


def test_check_warns_for_a_rule_far_wider_than_needed(tool, make_credential):
    make_credential(printed_rules(tool) + [
        {"service": "compute", "method": "DELETE", "path": "/v2.1/servers/*"}])
    line = next(line for line in tool("check").stdout.splitlines() if "access rules:" in line)
    assert line.startswith("WARN: access rules:") and "compute DELETE /v2.1/servers/*" in line


def test_no_secret_at_the_highest_verbosity_under_the_rules(tool, make_credential):
    _, secret = make_credential(printed_rules(tool))
    outputs = []
    for args in (("-vv", "snapshot", "manual", "2"), ("-vv", "check"),
                 ("-vv", "restore", "none-such-image", "--new", "x", "--yes")):
        result = tool(*args)
        outputs.append(result.stdout + result.stderr)
    everything = "\n".join(outputs)
    assert "DEBUG:" in everything
    assert secret not in everything


def test_a_volume_backed_server_backs_up_and_rotates_under_its_rules(bfv, make_credential,
                                                                     cinder):
    rules = printed_rules(bfv)
    assert {"service": "block-storage", "method": "DELETE", "path": "/v3/snapshots/*"} in rules
    assert {"service": "image", "method": "DELETE", "path": "/v2/images/*"} in rules
    make_credential(rules)
    made = []
    for _ in range(3):                  # our own rotation: one second's backups need no spacing
        result = bfv("snapshot", "manual", "1", "--json")
        assert result.returncode == 0, result.stderr
        assert "access rules" not in result.stderr and "WARNING" not in result.stderr, \
            result.stderr
        made.append(json.loads(result.stdout))
    assert [len(one["rotated"]) for one in made] == [0, 1, 1]      # our own rotation ran
    check = bfv("check").stdout
    assert "OK: access rules: application credential" in check
    assert [line for line in check.splitlines() if ": volume quota: " in line
            and "not allowed" not in line]
