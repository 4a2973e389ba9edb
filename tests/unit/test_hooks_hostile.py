"""The user's hooks when they misbehave, or the run is ended from outside (issue 22): a hook that
leaves a daemon on its output, the post/failed phase's own bound, SIGHUP/SIGINT/SIGTERM, and no
secret in a hook's environment. Real hook scripts and real processes, all under tmp_path."""

import os
import signal
import subprocess
import threading
import time

import pytest

from nova_snapshot_hook.backup import hooks as user_hooks
from nova_snapshot_hook.backup import take
from nova_snapshot_hook.deadline import DeadlineExceeded, watchdog
from nova_snapshot_hook.log import redactor
from nova_snapshot_hook.errors import Interrupted

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTEXT = dict(trigger="manual", series="manual", server_id="srv", image_name="vm-manual-x")


def write_hook(path, text):
    path.write_text(text)
    path.chmod(0o755)
    return path


def daemon_line(pidfile, redirect=""):
    """A shell line that starts `sleep 600` in a session of its own (out of reach of the hook's
    killpg), keeping the hook's stdout unless redirected, and waits until its pid is written."""
    return (f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 600' {redirect} &\n"
            f"while [ ! -s {pidfile} ]; do sleep 0.05; done\n")


@pytest.fixture
def leftovers(tmp_path):
    """Pid files the hooks write; their processes are killed by pid at the end, never by name."""
    files = []
    yield files
    for pidfile in files:
        try:
            pid = int(pidfile.read_text())
        except (OSError, ValueError):
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"sleep" not in cmdline.read():
                    continue        # gone, and the pid reused by someone else
            os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def within(seconds, function, *args):
    """Call `function` in a thread; its result, or an AssertionError when it is still running
    after `seconds` (the leftovers fixture then ends what it waits on, so the thread ends too)."""
    outcome = {}

    def call():
        try:
            outcome["value"] = function(*args)
        except BaseException as err:  # noqa: B902 - handed to the test
            outcome["error"] = err

    thread = threading.Thread(target=call, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(f"still running after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"], time.monotonic() - started


def run_daemon_hook(tmp_path, leftovers, name, phase, timeout, before="", redirect="", after=""):
    """Run hook `name` of `phase` with `timeout`: the shell lines `before`, a daemon started
    with `redirect` (daemon_line; the leftovers fixture ends it), then `after`. (status, output
    lines, seconds it took, the daemon's pid file)."""
    pidfile = tmp_path / "daemon.pid"
    leftovers.append(pidfile)
    hook = write_hook(tmp_path / name, "#!/bin/sh\n" + before + daemon_line(pidfile, redirect)
                      + after)
    (status, _, lines), took = within(10, user_hooks.run_one, str(hook), phase,
                                      dict(os.environ), timeout)
    return status, lines, took, pidfile


# -- item 5: every wait is bounded ---------------------------------------------------------------
def test_a_hung_hook_whose_daemon_holds_its_output_ends_soon_after_the_timeout(
        tmp_path, leftovers, warnings):
    status, lines, took, _ = run_daemon_hook(tmp_path, leftovers, "hung", "pre", 1.0,
                                             before="echo started\n", after="sleep 600\n")
    assert status is None and took < 5
    assert lines == ["started"]
    assert any("left a process holding its output" in line for line in warnings)


def test_a_hook_that_exits_at_once_leaving_a_daemon_on_its_output_returns_promptly(
        tmp_path, leftovers, warnings):
    status, lines, took, pidfile = run_daemon_hook(
        tmp_path, leftovers, "starts-daemon", "post", 30.0, before="echo before\n",
        redirect=">&1", after="echo after\nexit 0\n")
    assert status == 0 and took < 5
    assert lines == ["before", "after"]
    assert any("left a process holding its output" in line for line in warnings)
    # the daemon was started on purpose (a lock held through the snapshot): it is left running
    assert os.path.exists(f"/proc/{int(pidfile.read_text())}")


def test_a_daemon_that_lets_go_of_the_output_costs_nothing_and_says_nothing(tmp_path, leftovers,
                                                                              warnings):
    status, lines, took, _ = run_daemon_hook(tmp_path, leftovers, "polite", "pre", 30.0,
                                             redirect=">/dev/null 2>&1", after="echo done\n")
    assert (status, lines) == (0, ["done"]) and took < 1.5 and warnings == []


def test_all_the_output_of_a_chatty_hook_is_kept(tmp_path):
    hook = write_hook(tmp_path / "chatty", "#!/bin/sh\nseq 1 50000\nexit 4\n")
    status, _, lines = user_hooks.run_one(str(hook), "post", dict(os.environ), 30.0)
    assert status == 4 and lines == [str(n) for n in range(1, 50001)]


def test_the_post_and_failed_phase_keeps_a_bound_while_the_watchdog_is_held(
        tmp_path, monkeypatch):
    """The watchdog is held for post/failed (a lock must be released past the deadline), but
    not without end: if a hook outlives every bound of its own, the phase's bound ends it."""
    write_hook(tmp_path / "10-post", "#!/bin/sh\n")
    hooks = user_hooks.Hooks(str(tmp_path), 0.5, str(tmp_path / "state"), CONTEXT)
    hooks.pre_ran = True
    monkeypatch.setattr(user_hooks, "FINISH_SLACK", 0.5, raising=False)

    def stuck(path, phase, env, timeout):      # stands for a wait that never ends
        end = time.monotonic() + 15
        while time.monotonic() < end:
            time.sleep(0.05)
        return 0, 15.0, []

    monkeypatch.setattr(user_hooks, "run_one", stuck)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        with watchdog(60, grace=5):
            hooks.finish("post")
    assert time.monotonic() - started < 10
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_deadline_is_given_back_after_the_post_hooks(tmp_path):
    write_hook(tmp_path / "10-post", "#!/bin/sh\nsleep 0.3\n")
    hooks = user_hooks.Hooks(str(tmp_path), 5, str(tmp_path / "state"), CONTEXT)
    hooks.pre_ran = True
    with watchdog(30, grace=5):
        hooks.finish("post")
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    assert 30 < remaining <= 35


# -- item 6: SIGHUP, SIGINT and SIGTERM end the run by an exception --------------------------------
@pytest.mark.parametrize("signum, error", [(signal.SIGHUP, Interrupted),
                                           (signal.SIGINT, KeyboardInterrupt),
                                           (signal.SIGTERM, Interrupted)])
def test_each_stop_signal_raises_and_the_handlers_are_restored_exactly(tmp_path, signum, error):
    write_hook(tmp_path / "10-db", "#!/bin/sh\n")
    hooks = user_hooks.Hooks(str(tmp_path), 5, str(tmp_path / "state"), CONTEXT)
    seen = []
    # a handler of the test's own: on code that leaves a signal alone, the test fails, not pytest
    sentinel = lambda number, frame: seen.append(number)  # noqa: E731
    stops = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
    saved = {number: signal.signal(number, sentinel) for number in stops}
    try:
        before = {number: signal.getsignal(number) for number in stops}
        with pytest.raises(error):
            with take.interruptible(hooks):
                os.kill(os.getpid(), signum)
                time.sleep(1)
        assert seen == []
        assert {number: signal.getsignal(number) for number in stops} == before
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def test_an_ignored_sighup_stays_ignored(tmp_path):
    """nohup apt upgrade: whoever ignored SIGHUP meant the run to outlive the terminal."""
    write_hook(tmp_path / "10-db", "#!/bin/sh\n")
    hooks = user_hooks.Hooks(str(tmp_path), 5, str(tmp_path / "state"), CONTEXT)
    saved = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with take.interruptible(hooks):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, saved)


def test_sigterm_during_the_post_hooks_waits_for_them_then_stops_the_run(tmp_path):
    """Once post started, failed never runs: a post hook killed half-way would leave the
    application locked. The signal stops the run once the post hooks are done."""
    done = tmp_path / "post-done"
    write_hook(tmp_path / "10-db", f"#!/bin/sh\nkill -TERM $PPID\nsleep 0.5\ntouch {done}\n")
    hooks = user_hooks.Hooks(str(tmp_path), 5, str(tmp_path / "state"), CONTEXT)
    hooks.pre_ran = True
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted, match="SIGTERM"):
        with take.interruptible(hooks):
            hooks.finish("post", "img")
            time.sleep(1)
    assert done.exists()
    assert signal.getsignal(signal.SIGTERM) is before


DRIVER = """
import os, signal, sys, time
sys.path.insert(0, {repo!r})
from nova_snapshot_hook.backup import hooks as user_hooks, take
hooks = user_hooks.Hooks({hookdir!r}, 10, {state!r}, dict(trigger="apt", series="apt",
                         server_id="srv", image_name="vm-apt-x"))
stops = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
before = [signal.getsignal(number) for number in stops]
try:
    with take.interruptible(hooks):
        hooks.start()
        open({ready!r}, "w").close()
        time.sleep(30)                 # the backup; the test signals us meanwhile
    print("not interrupted")
except BaseException as err:           # as take_backup does
    hooks.finish("failed")
    print("ended by", type(err).__name__)
print("handlers restored", [signal.getsignal(number) for number in stops] == before)
"""


def run_driver(tmp_path, signals, failed_hook="touch {failed}\n"):
    """A real backup run in a child process, signalled from here once its pre hook ran."""
    hookdir = tmp_path / "hooks.d"
    hookdir.mkdir()
    names = {name: str(tmp_path / name) for name in ("pre", "failed", "failed-started", "ready")}
    write_hook(hookdir / "10-app", "#!/bin/sh\ncase $1 in\n  pre) touch {pre} ;;\n"
               "  failed) touch {failed_started}\n{failed_hook}  ;;\nesac\n".format(
                   pre=names["pre"], failed_started=names["failed-started"],
                   failed_hook=failed_hook.format(failed=names["failed"])))
    driver = DRIVER.format(repo=REPO, hookdir=str(hookdir), state=str(tmp_path / "state"),
                           ready=names["ready"])
    child = subprocess.Popen(["/usr/bin/python3", "-c", driver],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(names["ready"], child)
        for signum, wait_first in signals:
            if wait_first:
                wait_for(names[wait_first], child)
            child.send_signal(signum)
        output, _ = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, output, names


def wait_for(path, child, seconds=10):
    end = time.monotonic() + seconds
    while not os.path.exists(path):
        if child.poll() is not None or time.monotonic() > end:
            raise AssertionError(f"{os.path.basename(path)} never came "
                                 f"(exit status {child.poll()})")
        time.sleep(0.02)


@pytest.mark.parametrize("signum, ended_by", [(signal.SIGHUP, "Interrupted"),
                                              (signal.SIGINT, "KeyboardInterrupt"),
                                              (signal.SIGTERM, "Interrupted")])
def test_the_failed_hooks_run_when_a_signal_ends_the_backup(tmp_path, signum, ended_by):
    status, output, names = run_driver(tmp_path, [(signum, None)])
    assert status == 0, output
    assert os.path.exists(names["pre"]) and os.path.exists(names["failed"])
    assert f"ended by {ended_by}" in output and "handlers restored True" in output
    assert not (tmp_path / "state" / user_hooks.MARKER).exists()


def test_a_second_sighup_does_not_cut_the_failed_hooks_short(tmp_path):
    """A dropped SSH session sends SIGHUP more than once (the shell passes it on, the kernel
    sends it when the shell exits): the failed hooks must still run to their end."""
    status, output, names = run_driver(
        tmp_path, [(signal.SIGHUP, None), (signal.SIGHUP, "failed-started")],
        failed_hook="sleep 0.5; touch {failed}\n")
    assert status == 0, output
    assert os.path.exists(names["failed"])
    assert "ended by Interrupted" in output and "handlers restored True" in output
    assert not (tmp_path / "state" / user_hooks.MARKER).exists()


# -- weighed: no secret in a hook's environment --------------------------------------------------
def test_hooks_get_no_os_variable_and_no_registered_secret(monkeypatch):
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/root",
            "TERM": "xterm", "OS_PASSWORD": "pw-1234", "OS_AUTH_URL": "https://keystone:5000/v3",
            "OS_CLOUD": "mine", "VAULT_TOKEN": "tok-secret-5678",
            "DB_URL": "postgres://app:tok-secret-5678@db/app"}
    monkeypatch.setattr(redactor, "secrets", set(redactor.secrets))   # the test's own copy
    redactor.add("tok-secret-5678")
    env = user_hooks.environment("pre", "apt", "apt", "srv", "vm-apt-x", base=base)
    assert {name: env[name] for name in ("PATH", "LANG", "LC_ALL", "HOME", "TERM")} == {
        name: base[name] for name in ("PATH", "LANG", "LC_ALL", "HOME", "TERM")}
    assert not [name for name in env if name.startswith("OS_")]
    assert "VAULT_TOKEN" not in env and "DB_URL" not in env
    assert env["NSH_PHASE"] == "pre" and env["NSH_IMAGE_NAME"] == "vm-apt-x"


def test_a_real_hook_does_not_see_the_credentials_of_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OS_PASSWORD", "pw-from-env-1234")
    monkeypatch.setenv("OS_USERNAME", "admin")
    out = tmp_path / "env"
    write_hook(tmp_path / "10-env", f"#!/bin/sh\nenv > {out}\n")
    hooks = user_hooks.Hooks(str(tmp_path), 5, str(tmp_path / "state"), CONTEXT)
    hooks.run("pre")
    seen = out.read_text()
    assert "OS_" not in seen and "pw-from-env-1234" not in seen
    assert f"PATH={os.environ['PATH']}" in seen.splitlines()


def test_a_short_secret_that_occurs_in_path_does_not_cost_the_hooks_their_path(monkeypatch):
    from nova_snapshot_hook.backup.hooks import environment
    from nova_snapshot_hook.log import redactor
    monkeypatch.setattr(redactor, "secrets", {"sbin"})
    env = environment("pre", "apt", "apt", "s1", "name",
                      base={"PATH": "/usr/sbin:/usr/bin", "OTHER": "x-sbin-y"})
    assert env["PATH"] == "/usr/sbin:/usr/bin" and "OTHER" not in env
