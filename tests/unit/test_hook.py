"""The apt hook as apt runs it: a process reading the stream on its InfoFD, judged by its exit
status and its one line. No cloud here: the credentials point at a closed loopback port."""

from pathlib import Path

import pytest

from host_state import StateRoot
import runners

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "apt-hook"
INSTALL = (FIXTURES / "bookworm-install-new.txt").read_bytes()
HEAVY = ("argparse", "configparser", "logging", "keystoneauth1", "novaclient", "requests", "json")


def empty_list(stream):
    """The same config dump with no action lines."""
    return stream.split(b"\n\n", 1)[0] + b"\n\n"


def with_option(stream, line):
    head, tail = stream.split(b"\n\n", 1)
    return head + b"\n" + line + b"\n\n" + tail


def hook_state(tmp_path):
    """Where run_hook's runs keep their state: their NOVA_SNAPSHOT_HOOK_ROOT."""
    return StateRoot(tmp_path / "host")


def run_hook(stream, tmp_path, settings="", credentials=None, env=None, probe=False, prelude="",
             lock=None):
    conf = tmp_path / "nsh.conf"
    creds = tmp_path / "credentials"
    creds.write_text(credentials if credentials is not None else
                     "export OS_AUTH_URL=http://127.0.0.1:9/v3\nexport OS_USERNAME=u\n"
                     "export OS_PASSWORD=Secret-Pw-123\nexport OS_PROJECT_NAME=p\n")
    creds.chmod(0o600)
    conf.write_text(f"[cloud]\ncredentials = {creds}\n[server]\nid = 11111111-2222-3333-4444-"
                    f"555555555555\nidentity_root = {tmp_path}\nmetadata_url =\n[snapshot]\n"
                    f"lock = {lock or tmp_path / 'lock'}\n[log]\nsyslog = no\n[apt]\nwait = 10\n{settings}")
    code = (prelude + "import sys; from nova_snapshot_hook.main import main; status = main(['apt-hook'])\n"
            + ("print('MODULES', sorted(m for m in %r if m in sys.modules))\n" % (HEAVY,) if probe else "")
            + "sys.exit(status)")
    result = runners.run_hook(stream, root=hook_state(tmp_path).root, settings=conf, env=env,
                              command=[runners.PYTHON, "-c", code])
    return result.returncode, result.stdout, result.stderr


def test_empty_action_list_is_settled_by_the_stream_alone_without_heavy_imports(tmp_path):
    status, out, err = run_hook(empty_list(INSTALL), tmp_path, probe=True)
    assert status == 0 and err == ""
    assert "MODULES []" in out


def test_configure_only_list_is_settled_by_the_stream_alone_without_heavy_imports(tmp_path):
    status, out, err = run_hook(large_upgrade(300, configure_only=True), tmp_path, probe=True)
    assert status == 0 and err == "" and out == "MODULES []\n"


def test_skip_option_says_so_in_one_line_and_imports_nothing_heavy(tmp_path):
    stream = with_option(INSTALL, b"NovaSnapshotHook::Skip=true")
    status, out, err = run_hook(stream, tmp_path, probe=True)
    assert status == 0 and err == ""
    assert out.splitlines()[0] == "INFO: nova-snapshot-hook: skipped: NovaSnapshotHook::Skip=true"
    assert "MODULES []" in out


def test_hook_switched_off_in_the_settings_is_silent_and_cheap(tmp_path):
    status, out, err = run_hook(INSTALL, tmp_path, settings="enabled = no\n", probe=True)
    assert status == 0 and err == ""
    assert "keystoneauth1" not in out and "novaclient" not in out


def test_cloud_unreachable_warns_once_and_lets_apt_go_on(tmp_path):
    status, out, err = run_hook(INSTALL, tmp_path)
    assert status == 0
    warnings = [line for line in err.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == 1 and "cannot reach 127.0.0.1:9 (connection refused)" in warnings[0]
    assert warnings[0].endswith("apt goes on.")
    assert "Secret-Pw-123" not in out + err and "Traceback" not in err


@pytest.mark.parametrize("strict", ["setting", "option"])
def test_strict_mode_turns_the_failure_into_exit_99(tmp_path, strict):
    stream = with_option(INSTALL, b"NovaSnapshotHook::Require=true") if strict == "option" else INSTALL
    status, out, err = run_hook(stream, tmp_path,
                                settings="strict = yes\n" if strict == "setting" else "")
    assert status == 99
    assert err.count("ERROR:") == 1 and "Strict mode" in err


def test_garbage_stream_warns_and_goes_on(tmp_path):
    status, out, err = run_hook(b"\x00\xffnot a stream" * 10000, tmp_path)
    assert status == 0 and err.startswith("WARNING: nova-snapshot-hook: no backup image")
    assert "VERSION" in err


def test_garbage_stream_in_strict_mode_stops_apt(tmp_path):
    status, out, err = run_hook(b"garbage\n", tmp_path, settings="strict = yes\n")
    assert status == 99 and "Strict mode" in err


def test_a_malformed_config_with_the_require_option_stops_apt(tmp_path):
    stream = with_option(with_option(INSTALL, b"NovaSnapshotHook::Require=true"), b"junk")
    status, out, err = run_hook(stream, tmp_path)
    assert status == 99 and "'junk'" in err and "Strict mode" in err


def test_a_malformed_action_line_warns_naming_it_and_lets_apt_go_on(tmp_path):
    status, out, err = run_hook(INSTALL + b"foo 1.0 < 2.0 /x/foo.deb\n", tmp_path)
    assert status == 0 and out == ""
    assert err.startswith("WARNING: nova-snapshot-hook: no backup image before this apt run:"
                          " cannot read apt's package list: line ")
    assert "9 space-separated fields" in err and err.rstrip().endswith("apt goes on.")


def test_bad_settings_file_warns_naming_the_key(tmp_path):
    status, out, err = run_hook(INSTALL, tmp_path, settings="operations = instal\n")
    assert status == 0 and "[apt] operations" in err and "apt goes on" in err


@pytest.mark.parametrize("settings, env, says", [
    ("[shedule]\ndaily = 3\n", None, "unknown section [shedule]"),
    ("", {"NOVA_SNAPSHOT_HOOK_CONFIG": "/nonexistent/nsh.conf"}, "no such settings file")])
def test_a_refused_settings_file_warns_once_and_lets_apt_go_on(tmp_path, settings, env, says):
    status, out, err = run_hook(INSTALL, tmp_path, settings=settings, env=env)
    assert status == 0 and len(err.splitlines()) == 1, err
    assert err.startswith("WARNING:") and says in err and err.rstrip().endswith("apt goes on.")


def test_comments_only_credentials_take_no_backup_and_say_so_quietly(tmp_path):
    status, out, err = run_hook(INSTALL, tmp_path, credentials="# nothing yet\n")
    assert status == 0 and err == ""
    assert "no credentials configured yet" in out


def test_a_second_run_within_the_minimum_interval_takes_no_new_backup(tmp_path):
    state = hook_state(tmp_path).run
    state.mkdir(parents=True)
    import time
    (state / "last-apt-snapshot").write_text(
        f"fingerprint=x\nfrontend_pid=1\ntime={time.time()}\nfrontend=apt-get\nimage_id=img\n")
    status, out, err = run_hook(INSTALL, tmp_path)
    assert status == 0 and err == ""
    assert "within the minimum interval" in out and "install hello-snap 1.0-1" in out
    # The changes wait for apt-post-invoke in a private file of the state format.
    later = state / "later-changes"
    assert later.read_text() == "image img\nchanges install hello-snap 1.0-1\n"
    assert later.stat().st_mode & 0o777 == 0o600


def test_a_closed_info_fd_warns_and_lets_apt_go_on(tmp_path):
    conf = tmp_path / "nsh.conf"
    conf.write_text("[log]\nsyslog = no\n")
    result = runners.run_hook(None, root=hook_state(tmp_path).root, settings=conf,
                              env={"APT_HOOK_INFO_FD": "57"}, timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith("WARNING: nova-snapshot-hook: no backup image")


# --- the skip option on a large stream: decided from the raw action lines ---

def large_upgrade(count=2000, configure_only=False):
    """INSTALL's config dump with `count` upgrades: over 64 KiB, so apt would block on it."""
    lines = b"".join(b"pkg%d 1.0-%d amd64 same < 1:1.0-%d amd64 same %s\n" % (i, i, i, action)
                     for i in range(count)
                     for action in ((b"**CONFIGURE**",) if configure_only else
                                    (b"/var/cache/apt/archives/pkg%d.deb" % i, b"**CONFIGURE**")))
    return empty_list(INSTALL) + lines


def expected_output(stream, env=None):
    """What the full parse decides for a stream the stream alone settles: the one line the
    hook prints (the skip reason), or nothing (rule 1)."""
    from nova_snapshot_hook.apt.stream import parse_stream
    from nova_snapshot_hook.apt.changes import build_changes
    from nova_snapshot_hook.apt.policy import SKIP, settle_by_stream
    parsed = parse_stream(stream)
    changes = build_changes(parsed.action_lines.parse(), "amd64")
    decision = settle_by_stream(parsed.config, changes, env or {})
    assert decision is not None and not decision.snapshot
    return f"INFO: nova-snapshot-hook: {decision.reason}\n" if decision.rule == SKIP else ""


SKIP_STREAMS = {
    "fixture": with_option(INSTALL, b"NovaSnapshotHook::Skip=true"),
    "empty": with_option(empty_list(INSTALL), b"NovaSnapshotHook::Skip=true"),
    "configure-only": with_option(large_upgrade(300, configure_only=True),
                                  b"NovaSnapshotHook::Skip=yes"),
    "large": with_option(large_upgrade(), b"NovaSnapshotHook::Skip=on"),
    "large-strict": with_option(with_option(large_upgrade(), b"NovaSnapshotHook::Skip=1"),
                                b"NovaSnapshotHook::Require=true"),
}


@pytest.mark.parametrize("name", SKIP_STREAMS)
def test_skip_fast_path_prints_what_the_full_parse_decides(tmp_path, name):
    stream = SKIP_STREAMS[name]
    status, out, err = run_hook(stream, tmp_path, probe=True)   # the whole stream was written
    assert status == 0 and err == ""
    assert out.replace("MODULES []\n", "") == expected_output(stream)
    assert "MODULES []" in out


def test_skip_variable_on_a_large_stream_prints_what_the_full_parse_decides(tmp_path):
    env = {"NOVA_SNAPSHOT_HOOK_SKIP": "yes"}
    status, out, err = run_hook(large_upgrade(), tmp_path, env=env)
    assert status == 0 and err == ""
    assert out == expected_output(large_upgrade(), env) != ""


def test_large_stream_without_skip_is_still_parsed_whole(tmp_path):
    status, out, err = run_hook(large_upgrade(), tmp_path, settings="enabled = no\n")
    assert status == 0 and err == "" and out == ""
    bad = large_upgrade() + b"junk\n"
    status, out, err = run_hook(bad, tmp_path, settings="enabled = no\n")
    assert status == 0 and "line " in err and "'junk'" in err and "apt goes on" in err


@pytest.mark.parametrize("strict", [False, True])
def test_a_malformed_action_line_under_skip_is_skipped_not_reported(tmp_path, strict):
    # The lines are not checked under skip: no backup was wanted, so apt goes on even in
    # strict mode, whose own message names the skip option as the way to do just that.
    stream = with_option(large_upgrade(50) + b"junk\n", b"NovaSnapshotHook::Skip=true")
    status, out, err = run_hook(stream, tmp_path, settings="strict = yes\n" if strict else "")
    assert status == 0 and err == ""
    assert out == "INFO: nova-snapshot-hook: skipped: NovaSnapshotHook::Skip=true\n"


def test_a_malformed_config_under_skip_still_warns(tmp_path):
    stream = with_option(with_option(INSTALL, b"NovaSnapshotHook::Skip=true"), b"junk")
    status, out, err = run_hook(stream, tmp_path)
    assert status == 0 and out == "" and "'junk'" in err and "apt goes on" in err
