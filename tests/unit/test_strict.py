"""Strict means strict: however strict mode was set (the setting or apt's option), every failure of
the apt hook exits 99, whatever its cause (an exception of ours, a signal, a hook that cannot run);
without strict mode every failure lets apt go on. Every failure is recorded for `status`.

The hook runs as apt runs it (tests/unit/test_hook.py's runner): a process reading the stream on
its InfoFD; the credentials point at a closed loopback port."""

import json
import os

import pytest

from test_hook import INSTALL, hook_state, run_hook, with_option

STRICT = {"setting": dict(settings="strict = yes\n"), "option": {}, "off": {}}


def stream_for(mode):
    return with_option(INSTALL, b"NovaSnapshotHook::Require=true") if mode == "option" else INSTALL


def expected_status(mode):
    return 0 if mode == "off" else 99


def recorded_failure(tmp_path):
    """The apt series' entry in the attempts file the run wrote (None when it wrote none)."""
    try:
        entries = json.loads(hook_state(tmp_path).attempts.read_text())["series"]
    except FileNotFoundError:
        return None
    entry = entries.get("apt")
    assert entry is None or entry["trigger"] == "apt"
    return entry


def with_hook(tmp_path, body):
    hooks = tmp_path / "hooks.d"
    hooks.mkdir(exist_ok=True)
    hook = hooks / "10-app"
    hook.write_text(body)
    hook.chmod(0o755)
    return f"[hooks]\ndirectory = {hooks}\ntimeout = 20\n"


def hook_settings(mode, tmp_path, body):
    # [hooks] comes after [apt] in run_hook's file, so the strict key goes in first
    return STRICT[mode].get("settings", "") + with_hook(tmp_path, body)


@pytest.mark.parametrize("mode", ["setting", "option", "off"])
def test_a_crash_of_ours_after_the_settings_is_judged_by_strict_mode(tmp_path, mode):
    crash = ("import nova_snapshot_hook.apt.policy as p\n"
             "def decide(*a, **k): raise ValueError('planted bug')\n"
             "p.decide = decide\n")
    status, out, err = run_hook(stream_for(mode), tmp_path, prelude=crash, **STRICT[mode])
    assert status == expected_status(mode), err
    assert "internal error ValueError: planted bug" in err and "Traceback" not in err
    assert recorded_failure(tmp_path)["outcome"] == "failed"


@pytest.mark.parametrize("mode", ["setting", "option", "off"])
def test_a_hook_that_cannot_run_fails_the_run_by_strict_mode(tmp_path, mode):
    # no #! line: exec fails with ENOEXEC (an OSError, not a HookError)
    settings = hook_settings(mode, tmp_path, "echo frozen\n")
    status, out, err = run_hook(stream_for(mode), tmp_path, settings=settings)
    assert status == expected_status(mode), err
    assert "Traceback" not in err
    assert recorded_failure(tmp_path)["outcome"] == "failed"


@pytest.mark.parametrize("signame", ["INT", "HUP", "TERM"])
@pytest.mark.parametrize("mode", ["setting", "off"])
def test_a_signal_during_the_backup_fails_the_run_by_strict_mode(tmp_path, mode, signame):
    # the pre hook signals the hook process itself (its parent): a dropped SSH session, Ctrl-C
    settings = hook_settings(mode, tmp_path, f"#!/bin/sh\n[ \"$1\" = pre ] && kill -{signame} $PPID"
                                             "\nsleep 1\nexit 0\n")
    status, out, err = run_hook(stream_for(mode), tmp_path, settings=settings)
    assert status == expected_status(mode), err
    assert "Traceback" not in err
    assert recorded_failure(tmp_path)["outcome"] == "failed"


@pytest.mark.parametrize("mode", ["setting", "off"])
def test_an_unusable_info_fd_number_is_judged_by_strict_mode(tmp_path, mode):
    status, out, err = run_hook(stream_for(mode), tmp_path, **STRICT[mode],
                                env={"APT_HOOK_INFO_FD": "9" * 30})
    assert status == expected_status(mode), err
    assert "cannot read apt's package list" in err and "Traceback" not in err
    assert recorded_failure(tmp_path)["outcome"] == "failed"


def test_the_cloud_failure_of_a_strict_run_is_recorded_once(tmp_path):
    status, out, err = run_hook(INSTALL, tmp_path, settings="strict = yes\n")
    assert status == 99 and err.count("ERROR:") == 1
    entry = recorded_failure(tmp_path)
    assert entry["outcome"] == "failed" and "cannot reach 127.0.0.1:9" in entry["error"]
    assert entry["server"] == "11111111-2222-3333-4444-555555555555"


def test_a_bad_stream_is_recorded(tmp_path):
    status, out, err = run_hook(b"\x00\xffnot a stream" * 100, tmp_path)
    assert status == 0
    assert recorded_failure(tmp_path)["outcome"] == "failed"


def test_a_run_that_wants_no_backup_records_nothing(tmp_path):
    status, out, err = run_hook(INSTALL, tmp_path, settings="enabled = no\n")
    assert status == 0 and recorded_failure(tmp_path) is None
    assert not os.path.exists(hook_state(tmp_path).attempts)


@pytest.mark.parametrize("signame", ["HUP", "TERM"])
@pytest.mark.parametrize("mode", ["option", "off"])
def test_a_signal_before_any_backup_is_wanted_is_judged_by_strict_mode(tmp_path, mode, signame):
    # the signal comes while the hook still reads apt's stream: nothing imported for it yet
    stop = ("import os, signal\nimport nova_snapshot_hook.apt.policy as p\n"
            "real = p.settle_by_stream\n"
            f"def settle(*a):\n    os.kill(os.getpid(), signal.SIG{signame})\n"
            "    return real(*a)\n"
            "p.settle_by_stream = settle\n")
    status, out, err = run_hook(stream_for(mode), tmp_path, prelude=stop)
    assert status == expected_status(mode), err
    assert f"stopped by SIG{signame}" in err and "Traceback" not in err
    assert recorded_failure(tmp_path)["outcome"] == "failed"
