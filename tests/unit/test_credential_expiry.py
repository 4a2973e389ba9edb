"""The application credential's expiry (issue 24): the pure judgement (rules/expiry.py), `check`'s
line and exit status against the HTTP fake of test_access_rules (a real Cloud, keystoneauth and
Keystone's token and catalog), `status`'s line, JSON, Prometheus gauge and exit status against
tests/fake_cloud.py, a deleted or refused credential's one line, and the runs that must not ask."""

import datetime
import json

import pytest

from nova_snapshot_hook import views
from nova_snapshot_hook.apt import registration
from nova_snapshot_hook.errors import AccessRuleRefused, CloudError
from nova_snapshot_hook.rules import access, expiry, inventory
from runners import call_cli
from test_access_rules import PREFIXED, fake as http_fake, situation
from test_runner_outcomes import fake, run as run_runner

__all__ = ["fake", "http_fake"]   # fixtures: pytest finds them here by these names

DAY = 86400
NOW = 1_796_000_000.0
CREDENTIAL_PATH = "/identity/v3/users/u1/application_credentials/ac1"


def keystone_time(epoch):
    """`expires_at` as Keystone writes it: UTC, microseconds, no zone."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")


# -- the judgement --------------------------------------------------------------------------
@pytest.mark.parametrize("days, verdict", [(31, "ok"), (30, "warn"), (8, "warn"), (7, "fail"),
                                           (0, "fail"), (-1, "fail")])
@pytest.mark.parametrize("more", [1, DAY - 1], ids=["a second more", "a day less a second more"])
def test_the_thresholds_are_30_and_7_days_left(days, verdict, more):
    expires = NOW + days * DAY + more
    judged = expiry.judge(expires, NOW)
    assert (judged.verdict, judged.days_left, judged.expires) == (verdict, days, expires)
    assert judged.expired is (days < 0)
    assert judged.exit_code == {"ok": 0, "warn": 1, "fail": 2}[verdict]


def test_days_left_are_whole_days_rounded_down_and_this_second_is_past():
    assert expiry.judge(NOW + 30 * DAY + 12 * 3600, NOW).verdict == "warn"
    assert expiry.judge(NOW + 31 * DAY - 1, NOW).days_left == 30
    assert expiry.judge(NOW + 3600, NOW).days_left == 0
    now = expiry.judge(NOW, NOW)
    assert now.expired and now.days_left == -1 and now.verdict == "fail"


def test_a_credential_that_never_expires_is_ok_without_days():
    judged = expiry.judge(None, NOW)
    assert (judged.verdict, judged.days_left, judged.expires, judged.expired) == \
        ("ok", None, None, False)


def test_keystones_expires_at_is_read_as_utc():
    assert expiry.parse("2027-12-01T00:00:00.000000") == datetime.datetime(
        2027, 12, 1, tzinfo=datetime.timezone.utc).timestamp()
    assert expiry.parse("2027-12-01T00:00:00Z") == expiry.parse("2027-12-01T00:00:00")
    assert expiry.parse(None) is None
    for nonsense in ("soon", "", 42):
        with pytest.raises(ValueError):
            expiry.parse(nonsense)


def test_the_words_name_the_credential_the_time_the_days_and_the_fix_only_when_near():
    record = {"id": "ac1", "name": "nsh-web01"}
    fix = "make a new one"
    far = views.credential_expiry(record, expiry.judge(NOW + 90 * DAY, NOW), fix)
    assert far == ("application credential nsh-web01 (ac1) expires "
                   f"{views.format_time(NOW + 90 * DAY, seconds=False)} UTC, in 90 days")
    near = views.credential_expiry(record, expiry.judge(NOW + DAY + 60, NOW), fix)
    assert near.endswith(", in 1 day: make a new one")
    assert "in less than a day:" in views.credential_expiry(
        record, expiry.judge(NOW + 60, NOW), fix)
    gone = views.credential_expiry(record, expiry.judge(NOW - 60, NOW), fix)
    assert gone.startswith("application credential nsh-web01 (ac1) expired ") and "in " not in gone
    assert views.credential_expiry(record, expiry.judge(None, NOW), fix) == \
        "application credential nsh-web01 (ac1) never expires"
    assert views.status_credential_line(record, expiry.judge(NOW + 3 * DAY, NOW), fix).startswith(
        "Credential expiry: critical: application credential nsh-web01")


# -- the access rule ----------------------------------------------------------------------------
def unversioned_keystone():
    """The catalog with Keystone listed without its version, as many clouds list it."""
    return [dict(one, endpoints=[dict(one["endpoints"][0], url="http://127.0.0.1:9/identity")])
            if one["type"] == "identity" else one for one in PREFIXED]


def test_the_rules_let_the_credential_read_its_own_record_under_the_catalogs_keystone():
    wanted = {"service": "identity", "method": "GET",
              "path": "/identity/v3/users/*/application_credentials/*"}
    assert wanted in access.rules_for([], situation())
    assert access.optional_rules([], situation()) == [wanted]
    assert wanted in access.rules_for([], situation(unversioned_keystone()))
    no_keystone = [one for one in PREFIXED if one["type"] != "identity"]
    assert not [rule for rule in access.rules_for([], situation(no_keystone))
                if rule["service"] == "identity"]
    assert access.request_rule(situation().endpoints, "GET",
                               "http://127.0.0.1:9" + CREDENTIAL_PATH)["service"] == "identity"


def test_the_notes_say_what_the_identity_rule_allows():
    from nova_snapshot_hook.commands.access_rules import notes
    where = situation()
    text = "\n".join(notes(access.rules_for([], where), where, "demo"))
    assert "application credential of its user" in text and "never a secret" in text


# -- check --------------------------------------------------------------------------------------
def check(http_fake, capsys, monkeypatch, prepare=None):
    """`check` on the HTTP fake with apt's registration fine: (exit status, its lines by name)."""
    monkeypatch.setattr(registration, "hook_registration",
                        lambda: registration.Registration("OK", "as the test says"))
    cloud, _, run = http_fake()
    if prepare:
        prepare(cloud)
    code = run("check")
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = {line.split(": ", 2)[1]: line for line in out.splitlines()
             if line.startswith(("OK:", "WARN:", "FAIL:", "SKIP:"))}
    return code, lines, cloud


def expiring(days):
    import time

    def prepare(cloud):
        cloud.expires_at = keystone_time(time.time() + days * DAY + 3600)
    return prepare


def test_check_warns_30_days_ahead_with_the_days_left_and_still_exits_0(http_fake, capsys,
                                                                        monkeypatch):
    code, lines, cloud = check(http_fake, capsys, monkeypatch, expiring(10))
    line = lines["credential expiry"]
    assert line.startswith("WARN: credential expiry: application credential nsh (ac1) expires ")
    assert " UTC, in 10 days: make a new application credential and put its id and secret in " \
        "the environment (OS_* variables): 'nova-snapshot-hook access-rules' prints the command " \
        "that makes a restricted one" in line
    assert code == 0 and cloud.requests.count(("GET", CREDENTIAL_PATH)) == 1


@pytest.mark.parametrize("days", [3, -1])
def test_check_fails_7_days_ahead_or_expired_the_users_to_fix(http_fake, capsys, monkeypatch,
                                                              days):
    code, lines, _ = check(http_fake, capsys, monkeypatch, expiring(days))
    assert lines["credential expiry"].startswith(
        "FAIL: credential expiry: application credential nsh (ac1) " + (
            "expires " if days > 0 else "expired "))
    said = "in 3 days: make a new" if days > 0 else "UTC: make a new"
    assert said in lines["credential expiry"]
    assert code == 2


def test_check_says_a_credential_without_expiry_never_expires(http_fake, capsys, monkeypatch):
    code, lines, _ = check(http_fake, capsys, monkeypatch)
    assert lines["credential expiry"] == \
        "OK: credential expiry: application credential nsh (ac1) never expires"
    assert code == 0 and list(lines).index("credential expiry") == \
        list(lines).index("access rules") + 1


def refuse_the_read(status, message):
    def prepare(cloud):
        cloud.answers["GET", CREDENTIAL_PATH] = (status, {"error": {
            "code": status, "message": message, "title": "x"}})
    return prepare


def test_a_read_the_rules_refuse_is_reported_never_fatal(http_fake, capsys, monkeypatch):
    code, lines, _ = check(http_fake, capsys, monkeypatch, refuse_the_read(
        401, "The request you have made requires authentication."))
    assert lines["credential expiry"] == (
        "WARN: credential expiry: not allowed by this credential's access rules (no rule "
        f"identity GET {CREDENTIAL_PATH})")
    assert code == 0


def test_a_cloud_failure_on_the_read_is_a_check_the_cloud_kept_from_being_made(
        http_fake, capsys, monkeypatch):
    code, lines, _ = check(http_fake, capsys, monkeypatch, refuse_the_read(500, "boom"))
    assert lines["credential expiry"].startswith(
        "FAIL: credential expiry: reading application credential ac1: HTTP 500")
    assert code == 1


def test_a_deleted_credential_says_so_and_how_to_replace_it(http_fake, capsys, monkeypatch):
    code, lines, _ = check(http_fake, capsys, monkeypatch, refuse_the_read(
        404, "Could not find Application Credential: ac1."))
    assert lines["credential expiry"].startswith(
        "FAIL: credential expiry: Keystone has no application credential ac1 (HTTP 404): it was "
        "deleted (make a new application credential")
    assert "'nova-snapshot-hook access-rules' prints" in lines["credential expiry"]
    assert code == 2


def test_a_credential_made_before_the_expiry_rule_warns_and_works(http_fake, capsys, monkeypatch):
    def old_rules(cloud):
        cloud.rules = [rule for rule in cloud.rules if rule["service"] != "identity"]
    code, lines, _ = check(http_fake, capsys, monkeypatch, old_rules)
    assert lines["access rules"] == (
        "WARN: access rules: application credential nsh: lacks the rule that lets check and "
        "status read its expiry: identity GET /identity/v3/users/*/application_credentials/* "
        "('nova-snapshot-hook access-rules' prints what is needed)")
    assert code == 0


def test_a_password_has_no_expiry_line_and_no_request(http_fake, capsys, monkeypatch):
    def password(cloud):
        cloud.password = True
        for name in ("OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET"):
            monkeypatch.delenv(name)
        for name, value in (("OS_AUTH_TYPE", "password"), ("OS_USERNAME", "demo"),
                            ("OS_PASSWORD", "fake-password"), ("OS_PROJECT_NAME", "demo"),
                            ("OS_USER_DOMAIN_NAME", "Default"),
                            ("OS_PROJECT_DOMAIN_NAME", "Default")):
            monkeypatch.setenv(name, value)
    code, lines, cloud = check(http_fake, capsys, monkeypatch, password)
    assert lines["token"].startswith("OK: token: ") and "credential expiry" not in lines
    assert not [path for _, path in cloud.requests if "application_credentials" in path]


def test_the_read_goes_to_the_catalogs_keystone_with_its_version(http_fake, capsys, monkeypatch):
    def unversioned(cloud):
        cloud.catalog = unversioned_keystone()
    code, lines, cloud = check(http_fake, capsys, monkeypatch, unversioned)
    assert ("GET", CREDENTIAL_PATH) in cloud.requests
    assert lines["credential expiry"].startswith("OK: credential expiry: ")


# -- a credential Keystone no longer takes ------------------------------------------------------
@pytest.mark.parametrize("status, message, says", [
    (401, "The request you have made requires authentication.",
     "Keystone refused application credential ac1 (HTTP 401): it has expired, its secret is "
     "wrong, or its user or project is disabled"),
    (404, "Could not find Application Credential: ac1.",
     "Keystone has no application credential ac1 (HTTP 404): it was deleted")])
def test_a_refused_or_deleted_credential_says_so_and_how_to_replace_it(http_fake, capsys,
                                                                     monkeypatch, status,
                                                                     message, says):
    def refused(cloud):
        cloud.answers["POST", "/identity/v3/auth/tokens"] = (status, {"error": {
            "code": status, "message": message, "title": "x"}})
    code, lines, cloud = check(http_fake, capsys, monkeypatch, refused)
    assert says in lines["token"] and lines["token"].startswith("FAIL: token: ")
    assert "'nova-snapshot-hook access-rules' prints the command that makes a restricted one " \
        "(nova-snapshot-hook-access-rules(8))" in lines["token"]
    assert lines["credential expiry"] == \
        "SKIP: credential expiry: needs a check above that failed"
    assert code == 2            # the user's to fix, a deleted one too
    again, _, run = http_fake()
    refused(again)
    assert run("status") == 3           # monitoring: the backups cannot be read
    err = capsys.readouterr().err
    assert "ERROR: cannot read the backups: " in err and says in err


# -- status -------------------------------------------------------------------------------------
def at_fresh(cloud):
    """`status --at` an hour after the backup, and that moment in epoch seconds."""
    created = inventory.parse_time(cloud.images[cloud.survivor]["created_at"])
    text = datetime.datetime.fromtimestamp(created + 3600, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M")
    return text, inventory.parse_time(text)


def status(fake, capsys, *args, days=None, never=False):
    """`status --at` a fresh moment with an application credential expiring in `days`."""
    moment, now = at_fresh(fake)
    if days is not None or never:
        fake.credential = {"id": "ac1", "name": "nsh-web01", "expires_at":
                           None if never else keystone_time(now + days * DAY + 600)}
    return call_cli("--config", fake.settings, "status", "--at", moment, *args, capsys=capsys), now


@pytest.mark.parametrize("days, code, word", [(31, 0, "ok"), (30, 1, "warning"), (8, 1, "warning"),
                                              (7, 2, "critical"), (0, 2, "critical")])
def test_status_is_a_warning_30_days_ahead_and_critical_7(fake, capsys, days, code, word):
    result, _ = status(fake, capsys, days=days)
    assert result.returncode == code, result.stdout + result.stderr
    line, = [line for line in result.stdout.splitlines() if line.startswith("Credential")]
    assert line.startswith(f"Credential expiry: {word}: application credential nsh-web01 (ac1) "
                           "expires ")
    assert f", in {days} days" in line or (days == 0 and ", in less than a day" in line)
    assert line.endswith(": make a new application credential") is (word != "ok")
    assert fake.called("application_credential") == [None]        # one read


def test_status_json_and_prometheus_carry_the_expiry(fake, capsys, tmp_path):
    metrics = tmp_path / "nsh.prom"
    result, now = status(fake, capsys, "--json", "--prometheus", str(metrics), days=10)
    report = json.loads(result.stdout)
    expires = inventory.parse_time(report["credential"]["expires_at"])
    assert report["credential"] == {"id": "ac1", "name": "nsh-web01",
                                    "expires_at": keystone_time(now + 10 * DAY + 600),
                                    "days_left": 10, "verdict": "warn", "exit_status": 1}
    assert report["exit_status"] == result.returncode == 1
    text = metrics.read_text()
    assert "# HELP nova_snapshot_hook_credential_expiry_timestamp_seconds When the application " \
           "credential in use expires (Unix time" in text
    assert "# TYPE nova_snapshot_hook_credential_expiry_timestamp_seconds gauge\n" in text
    assert f"\nnova_snapshot_hook_credential_expiry_timestamp_seconds {expires:.0f}\n" in text
    assert "\nnova_snapshot_hook_status 1\n" in text


@pytest.mark.parametrize("never", [True, False], ids=["never expires", "password"])
def test_status_without_an_expiry_has_no_gauge_and_a_password_no_line(fake, capsys, tmp_path,
                                                                      never):
    metrics = tmp_path / "nsh.prom"
    result, _ = status(fake, capsys, "--prometheus", str(metrics), never=never)
    assert result.returncode == 0
    assert "credential_expiry" not in metrics.read_text()
    lines = [line for line in result.stdout.splitlines() if line.startswith("Credential")]
    assert lines == (["Credential expiry: ok: application credential nsh-web01 (ac1) never "
                      "expires"] if never else [])
    report = json.loads(status(fake, capsys, "--json", never=never)[0].stdout)
    assert (report["credential"] is None) is not never


@pytest.mark.parametrize("error", [
    AccessRuleRefused("reading application credential ac1: not allowed by this credential's "
                      "access rules (HTTP 401; no rule identity GET /v3/users/u1/"
                      "application_credentials/ac1)", rule={}),
    CloudError("reading application credential ac1: cannot reach 127.0.0.1:5000 (connection "
               "refused)", fix="check the network")], ids=["refused", "cloud down"])
def test_status_that_cannot_read_the_expiry_says_so_and_keeps_the_backups_verdict(
        fake, capsys, error):
    fake.faults["application_credential"] = [error]
    result, _ = status(fake, capsys, days=3)
    assert result.returncode == 0, result.stdout + result.stderr
    warning, = [line for line in result.stderr.splitlines() if line.startswith("WARNING:")]
    assert warning.startswith("WARNING: cannot read the credential's expiry: reading "
                              "application credential ac1: ")
    assert not [line for line in result.stdout.splitlines() if line.startswith("Credential")]
    fake.faults["application_credential"] = [error]
    report = json.loads(status(fake, capsys, "--json", days=3)[0].stdout)
    assert report["exit_status"] == 0 and report["credential"]["error"].startswith(
        "reading application credential ac1: ")


def test_status_that_cannot_read_the_backups_does_not_ask_for_the_expiry(fake, capsys):
    fake.faults["list_images"] = [CloudError("listing images: HTTP 503", fix="retry")]
    result, _ = status(fake, capsys, days=3)
    assert result.returncode == 3
    assert fake.called("application_credential") == []


# -- the runs that stay cheap -------------------------------------------------------------------
@pytest.mark.parametrize("runner", ["apt-hook", "scheduled", "snapshot"])
def test_the_apt_hook_and_the_backups_never_ask_for_the_expiry(fake, capsys, monkeypatch, runner):
    fake.credential = {"id": "ac1", "name": "nsh-web01", "expires_at": keystone_time(NOW)}
    result = run_runner(runner, fake, capsys, monkeypatch)
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake.called("execute") and fake.called("application_credential") == []
    assert "expir" not in result.stdout + result.stderr
