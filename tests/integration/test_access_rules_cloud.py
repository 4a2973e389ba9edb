"""Least privilege against the local cloud (issue 15): an application credential made from the
tool's own `access-rules` output runs everything it is for, and the cloud refuses the rest.

The credential is created as the demo user through Keystone's API; Nova, Glance and Cinder check
its rules with keystonemiddleware ([keystone_authtoken] service_type, minicloud/lib/configs.sh).
"""

import datetime
import json
import uuid
from pathlib import Path

import pytest
import requests

from cloud_fixtures import openrc_vars, read_state
from runners import REPO, run_hook
from test_volume_backed_cloud import bfv, cinder

__all__ = ["bfv", "cinder"]  # fixtures (the volume-backed server) pytest finds here by name

KEYSTONE = "http://127.0.0.1:5000/v3"
# apt's configuration as the package ships it, so that check's exit status is about the cloud
SHIPPED_APT = {"APT_CONFIG": str(Path(REPO, "etc", "apt", "apt.conf.d", "80nova-snapshot-hook"))}
OWN_RECORD = {"service": "identity", "method": "GET",
              "path": "/v3/users/*/application_credentials/*"}


# The role named, not taken from the token: Zed's Keystone, busy, now and then lists a role in a
# demo token that the user does not hold (admin, seen twice in one make check), and then
# refuses the credential for it ("Could not find role assignment").
MEMBER = [{"name": "member"}]


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
    """make_credential(rules, lasting) -> (id, secret): a demo application credential with these
    access rules that expires after `lasting` (a timedelta; 2 hours), written as the tool's
    credentials file; deleted after the test. make_credential.made: Keystone's answer."""
    token, user_id = demo_token()
    made = []

    def make(rules, lasting=datetime.timedelta(hours=2)):
        expires = (datetime.datetime.utcnow() + lasting).strftime("%Y-%m-%dT%H:%M:%S")
        body = {"application_credential": {"name": f"nsh-test-{uuid.uuid4().hex[:8]}",
                                           "access_rules": rules, "expires_at": expires,
                                           "roles": MEMBER}}
        answer = requests.post(f"{KEYSTONE}/users/{user_id}/application_credentials", json=body,
                               headers={"X-Auth-Token": token}, timeout=30)
        assert answer.status_code == 201, answer.text
        credential = answer.json()["application_credential"]
        made.append(credential["id"])
        make.made = credential
        tool.credentials.write_text(
            "export OS_AUTH_TYPE=v3applicationcredential\n"
            f"export OS_AUTH_URL={KEYSTONE}\n"
            f"export OS_APPLICATION_CREDENTIAL_ID={credential['id']}\n"
            f"export OS_APPLICATION_CREDENTIAL_SECRET={credential['secret']}\n"
            "export OS_REGION_NAME=RegionOne\nexport OS_INTERFACE=public\n")
        return credential["id"], credential["secret"]

    make.user_id, make.token = user_id, token
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
    assert OWN_RECORD in rules      # Keystone lists itself in the catalog: the expiry's read
    assert any(rule["method"] == "DELETE" for rule in printed_rules(tool, "--for", "prune"))
    tool.write_settings(extra="method = image\n")
    assert {"service": "image", "method": "DELETE", "path": "/v2/images/*"} in printed_rules(tool)


def test_everything_the_credential_is_for_works_under_its_rules(tool, make_credential,
                                                                minicloud, admin):
    make_credential(printed_rules(tool), datetime.timedelta(days=60, hours=1))
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
            # the credential reads its own expiry under its rules
            assert "Credential expiry: ok: application credential nsh-test-" in result.stdout
            assert ", in 60 days" in result.stdout
        elif args == ("check",):    # this host's own apt configuration is not the point here
            lines = result.stdout.splitlines()
            # one line per finding of this host's apt configuration, each on stdout
            apt = [line for line in lines if line.split(": ")[1:2] == ["apt hook"]]
            assert apt and len(lines) - len(apt) == 14 and all(
                line.startswith("OK: ") for line in lines
                if line not in apt and not line.startswith("WARN: quiesce:")), lines
            expiry, = [line for line in lines if ": credential expiry: " in line]
            assert expiry.startswith("OK: credential expiry: application credential nsh-test-")
            assert expiry.endswith(", in 60 days"), expiry
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
    # (check reads the rules from the token, which carries them too; its expiry from here, which
    # the printed rules allow)
    itself = requests.get(f"{KEYSTONE}/users/{make_credential.user_id}/application_credentials/"
                          f"{credential_id}", headers=headers, timeout=30)
    assert itself.status_code == 200 and itself.json()["application_credential"]["access_rules"]
    assert "secret" not in itself.json()["application_credential"]


def no_schedule(tool):
    """Settings with every scheduled tier off: without backups, status is then OK (0)."""
    tool.write_settings(extra="[schedule]\ndaily = 0\nweekly = 0\nmonthly = 0\nyearly = 0\n")


def test_a_credential_expiring_in_10_days_warns_in_check_and_status(tool, make_credential,
                                                                    tmp_path):
    no_schedule(tool)
    assert tool("status").returncode == 0, tool("status").stdout      # the backups: OK
    make_credential(printed_rules(tool), datetime.timedelta(days=10, hours=1))
    expires = datetime.datetime.fromisoformat(make_credential.made["expires_at"]).replace(
        tzinfo=datetime.timezone.utc).timestamp()
    checked = tool("check", env=SHIPPED_APT)
    line, = [line for line in checked.stdout.splitlines() if ": credential expiry: " in line]
    assert line.startswith("WARN: credential expiry: application credential nsh-test-"), line
    assert ", in 10 days: make a new application credential and put its id and secret in " \
        f"{tool.credentials}" in line
    assert checked.returncode == 0, checked.stdout        # a WARN does not fail check
    metrics = tmp_path / "nsh.prom"
    status = tool("status", "--prometheus", str(metrics))
    assert status.returncode == 1, status.stdout + status.stderr     # WARNING
    assert "Credential expiry: warning: application credential nsh-test-" in status.stdout
    assert f"\nnova_snapshot_hook_credential_expiry_timestamp_seconds {expires:.0f}\n" in \
        metrics.read_text()
    assert "\nnova_snapshot_hook_status 1\n" in metrics.read_text()


def test_a_credential_expiring_in_3_days_fails_check_and_is_critical(tool, make_credential):
    no_schedule(tool)
    make_credential(printed_rules(tool), datetime.timedelta(days=3, hours=1))
    checked = tool("check", env=SHIPPED_APT)
    line, = [line for line in checked.stdout.splitlines() if ": credential expiry: " in line]
    assert line.startswith("FAIL: credential expiry: ") and ", in 3 days: " in line, line
    assert checked.returncode == 2                        # the user's to fix
    assert tool("status").returncode == 2                 # CRITICAL


def test_a_credential_without_the_identity_rule_works_and_check_says_what_it_lacks(
        tool, make_credential):
    make_credential([rule for rule in printed_rules(tool) if rule != OWN_RECORD],
                    datetime.timedelta(days=60, hours=1))
    checked = tool("check", env=SHIPPED_APT)
    line, = [line for line in checked.stdout.splitlines() if ": access rules: " in line]
    assert line.startswith("WARN: access rules: ") and "lacks the rule that lets check and " \
        "status read its expiry: identity GET /v3/users/*/application_credentials/*" in line
    expiry, = [line for line in checked.stdout.splitlines() if ": credential expiry: " in line]
    # Measured: Keystone (Zed) does not hold its own API to the rules; one that does refuses
    # the read, which check reports as a WARN: either way nothing fails
    assert expiry.startswith(("OK: credential expiry: ", "WARN: credential expiry: not allowed"))
    assert checked.returncode == 0, checked.stdout


def test_a_deleted_credential_says_so_and_how_to_replace_it(tool, make_credential):
    credential_id, _ = make_credential(printed_rules(tool))
    answer = requests.delete(f"{KEYSTONE}/users/{make_credential.user_id}/application_credentials/"
                             f"{credential_id}", headers={"X-Auth-Token": make_credential.token},
                             timeout=30)
    assert answer.status_code == 204, answer.text
    checked = tool("check")
    line, = [line for line in checked.stdout.splitlines() if ": token: " in line]
    assert line.startswith(f"FAIL: token: Keystone has no application credential {credential_id} "
                           "(HTTP 404): it was deleted (make a new application credential"), line
    assert "'nova-snapshot-hook access-rules' prints the command" in line
    assert checked.returncode == 2
    status = tool("status")
    assert status.returncode == 3 and "it was deleted" in status.stderr     # UNKNOWN, said
    assert "Traceback" not in checked.stderr + status.stderr


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
