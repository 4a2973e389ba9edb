"""`check`, `pin`, `unpin` and `prune` with --json (issue 24): one JSON document on stdout, its
content what the command did, its other lines on stderr; an error is still one ERROR line and
its exit status, with no JSON. And every line of `check`, the apt hook's further findings (no
Post-Invoke line) among them, is a line of its own on stdout, never a log line on stderr.

pin, unpin and prune against tests/fake_cloud.py (the scene of test_runner_outcomes: this
server and an older daily backup, [schedule] daily = 5); check against the HTTP fake of
test_access_rules, which has Keystone's token and catalog."""

import json

import pytest

from nova_snapshot_hook.apt import registration
from nova_snapshot_hook.errors import CloudError
from nova_snapshot_hook.rules import naming, pinning, volumes
from runners import call_cli
from test_access_rules import PROJECT, SERVER, fake as http_fake
from test_runner_outcomes import fake

__all__ = ["fake", "http_fake"]   # fixtures: pytest finds them here by these names

STATES = ("OK:", "WARN:", "FAIL:", "SKIP:")
SECRET = 'ac-s3cr"et\\key'


def cli(fake, *argv, capsys):
    return call_cli("--config", fake.settings, *argv, capsys=capsys)


def document(result):
    """The one JSON document on stdout: nothing else is there."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return json.loads(result.stdout)


def refused(result, code):
    """An error under --json: no JSON, one ERROR line on stderr, the usual status."""
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stdout == ""
    assert [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert "Traceback" not in result.stderr


def backup(cloud, series, **fields):
    """One of our createBackup images of this server in `series`."""
    server = next(iter(cloud.servers))
    return cloud.add_image(instance_uuid=server, image_type="backup", backup_type=series,
                           nsh_series=series, nsh_server=server,
                           **{naming.METHOD_PROPERTY: "createBackup", **fields})


# -- pin and unpin -------------------------------------------------------------------------------
def test_pin_json_is_the_pinned_image_as_glance_answered(fake, capsys):
    fake.images[fake.survivor][naming.METHOD_PROPERTY] = "createBackup"
    result = cli(fake, "pin", fake.survivor, "--json", capsys=capsys)
    assert document(result) == {
        "id": fake.survivor, "name": fake.images[fake.survivor]["name"], "series": "pinned",
        "pinned": True, "pinned_from": "daily", "protected": True, "backup_type": "pinned"}
    assert fake.images[fake.survivor]["protected"] is True
    assert "SUCCESS: Pinned " in result.stderr       # people's lines on stderr


def test_unpin_json_is_the_image_back_in_its_series(fake, capsys):
    fake.images[fake.survivor][naming.METHOD_PROPERTY] = "createBackup"
    fake.patch_image(fake.survivor, pinning.pin_patch(fake.images[fake.survivor]))
    result = cli(fake, "unpin", fake.survivor, "--json", capsys=capsys)
    assert document(result) == {
        "id": fake.survivor, "name": fake.images[fake.survivor]["name"], "series": "daily",
        "pinned": False, "pinned_from": None, "protected": False, "backup_type": "daily"}
    assert "SUCCESS: Unpinned " in result.stderr


def test_pin_json_refused_or_failing_prints_one_error_and_no_json(fake, capsys):
    refused(cli(fake, "pin", fake.survivor, "--json", capsys=capsys), 2)    # not made by us
    fake.images[fake.survivor][naming.METHOD_PROPERTY] = "createBackup"
    fake.faults["patch_image"] = [CloudError("pinning image: HTTP 503", fix="try again")]
    refused(cli(fake, "pin", fake.survivor, "--json", capsys=capsys), 1)
    refused(cli(fake, "unpin", fake.survivor, "--json", capsys=capsys), 2)  # not pinned


# -- prune ---------------------------------------------------------------------------------------
@pytest.fixture
def crowded(fake):
    """daily (count 5): the survivor, a protected one, five newer, one still saving; manual
    (no count): two; an orphaned volume snapshot of ours whose image is gone."""
    fake.images[fake.survivor][naming.METHOD_PROPERTY] = "createBackup"
    protected = backup(fake, "daily", protected=True)
    newer = [backup(fake, "daily") for _ in range(5)]
    saving = backup(fake, "daily", status="saving")
    manual = [backup(fake, "manual") for _ in range(2)]
    volume = fake.add_volume()
    orphan = fake.add_snapshot(volume, metadata=volumes.our_marks("gone-image",
                                                                  next(iter(fake.servers))))
    return {"protected": protected, "newer": newer, "saving": saving, "manual": manual,
            "orphan": orphan}


def entry(fake, image_id, reason, **more):
    image = fake.images[image_id]
    return {"id": image_id, "name": image["name"], "created_at": image["created_at"],
            "reason": reason, **more}


def expected(fake, crowded, deleted):
    newest = [entry(fake, image_id, "among the newest 5") for image_id in crowded["newer"]]
    return {
        "dry_run": not deleted,
        "series": [
            {"series": "daily", "keep": 5, "count": 5, "source": "[schedule] daily",
             "active": 7, "other_status": 1,
             "delete": [entry(fake, fake.survivor, "older than the newest 5", deleted=deleted)],
             "kept": newest[::-1] + [entry(fake, crowded["protected"], "protected")]},
            {"series": "manual", "keep": None, "count": None, "source": None, "active": 2,
             "other_status": 0, "delete": [],
             "kept": [entry(fake, image_id, "no count configured")
                      for image_id in crowded["manual"][::-1]]}],
        "orphaned_volume_snapshots": [
            {"id": crowded["orphan"], "size_gb": 1, "status": "available",
             "image_id": "gone-image", "deleted": deleted}]}


def test_prune_json_dry_run_says_what_would_go_and_what_stays_and_why(fake, crowded, capsys):
    before = dict(fake.images)
    wanted = expected(fake, crowded, deleted=False)
    assert document(cli(fake, "prune", "--json", capsys=capsys)) == wanted
    assert fake.images.keys() == before.keys() and crowded["orphan"] in fake.snapshots


def test_prune_delete_json_says_what_was_deleted(fake, crowded, capsys):
    wanted = expected(fake, crowded, deleted=True)      # the names, read before they go
    result = cli(fake, "prune", "--delete", "--json", capsys=capsys)
    assert document(result) == wanted
    assert fake.survivor not in fake.images and crowded["orphan"] not in fake.snapshots
    assert "INFO: Prune: deleted " in result.stderr


def test_prune_json_of_an_image_changed_since_the_listing_is_not_deleted(fake, crowded, capsys):
    """delete_backup reads the image again: protected meanwhile, it stays, and says so."""
    fake.between["list_images"] = lambda cloud: cloud.images[cloud.survivor].update(
        protected=True)
    found = document(cli(fake, "prune", "--delete", "--json", capsys=capsys))
    doomed, = found["series"][0]["delete"]
    assert doomed["id"] == fake.survivor and doomed["deleted"] is False
    assert fake.survivor in fake.images


def test_prune_json_failing_prints_one_error_and_no_json(fake, capsys):
    fake.faults["list_images"] = [CloudError("listing images: HTTP 503", fix="try again")]
    refused(cli(fake, "prune", "--json", capsys=capsys), 1)


# -- check ---------------------------------------------------------------------------------------
def apt_settings(**values):
    """hook_registration's verdict on these apt settings (the shipped ones, changed)."""
    shipped = dict(pre_install=(registration.SHIPPED_LINE,),
                   post_invoke=(registration.POST_INVOKE_COMMAND,), version="3", info_fd="20")
    verdict = registration.assess(registration.AptHookSettings(**{**shipped, **values}))
    return lambda root=None: verdict


POST_INVOKE = "DPkg::Post-Invoke has no '/usr/sbin/nova-snapshot-hook apt-post-invoke' line"


@pytest.mark.parametrize("values, first, code", [
    ({"version": "2"}, "WARN: apt hook: DPkg::Tools::Options::", 0),
    ({"skip": "true"}, "FAIL: apt hook: NovaSnapshotHook::Skip", 2)],
    ids=["after a WARN", "after a FAIL"])
def test_the_post_invoke_warning_is_a_warn_line_of_check_on_stdout(http_fake, capsys,
                                                                   monkeypatch, values, first,
                                                                   code):
    _, _, run = http_fake()
    monkeypatch.setattr(registration, "hook_registration", apt_settings(post_invoke=(), **values))
    assert run("check") == code           # a WARN never fails check
    out, err = capsys.readouterr()
    apt = [line for line in out.splitlines() if line.startswith(STATES) and " apt hook: " in line]
    assert len(apt) == 2 and apt[0].startswith(first), out
    assert apt[1].startswith(f"WARN: apt hook: {POST_INVOKE}, so backup images do not record")
    assert "Post-Invoke" not in err


def test_check_json_is_its_lines_as_records_with_the_exit_status(http_fake, capsys,
                                                                 monkeypatch):
    cloud, _, run = http_fake()
    monkeypatch.setattr(registration, "hook_registration",
                        apt_settings(post_invoke=(), version="2"))
    # a secret in the cloud's answer is masked in the JSON as in the lines, one with characters
    # that JSON escapes too (masked after the escaping, it would slip through)
    monkeypatch.setenv("OS_APPLICATION_CREDENTIAL_SECRET", SECRET)
    server = dict(cloud.server(), name=f"web01-{SECRET}")
    cloud.answers["GET", f"/compute/v2.1/servers/{SERVER}"] = (200, {"server": server})
    assert run("check") == 0
    lines = capsys.readouterr().out.splitlines()
    assert run("check", "--json") == 0
    out, err = capsys.readouterr()
    found = json.loads(out)
    assert found["exit_status"] == 0
    assert [f"{one['status'].upper()}: {one['name']}: {one['text']}"
            for one in found["checks"]] == [line for line in lines if line.startswith(STATES)]
    assert {one["status"] for one in found["checks"]} <= {"ok", "warn", "fail", "skip"}
    server_check, = [one for one in found["checks"] if one["name"] == "server"]
    assert server_check["text"].startswith("web01-*** (")
    assert SECRET not in out + err and json.dumps(SECRET)[1:-1] not in out + err
    assert PROJECT in out
    apt = [one for one in found["checks"] if one["name"] == "apt hook"]
    assert [one["status"] for one in apt] == ["warn", "warn"]
    assert apt[1]["text"].startswith(POST_INVOKE)


def test_check_json_carries_a_failing_exit_status(http_fake, capsys, monkeypatch):
    _, _, run = http_fake()
    monkeypatch.setattr(registration, "hook_registration", apt_settings(skip="true"))
    monkeypatch.delenv("OS_AUTH_URL")
    assert run("check", "--json") == 2
    found = json.loads(capsys.readouterr().out)
    assert found["exit_status"] == 2
    states = {one["name"]: one["status"] for one in found["checks"]}
    assert states["apt hook"] == "fail" and states["credentials"] == "fail"
    assert states["token"] == "skip"
