"""The user's hooks around a backup of this server: /etc/nova-snapshot-hook/hooks.d, run-parts style.

Phases, the first argument of each hook: `pre` before the snapshot request; `post` once the disk
is captured (the earliest moment an application lock may be released); `failed` when the backup
failed after `pre` ran. The invariant: once `pre` has run, `post` or `failed` runs, whatever ends
the backup (an error, a capture timeout, the watchdog, SIGTERM, SIGHUP, Ctrl-C). Only `kill -9`
escapes it; a marker file tells the next run (NSH_PREVIOUS=interrupted).

Each hook runs in a process group of its own, with [hooks] timeout; a hung one is killed with its
group. Every wait is bounded, even on a hook that leaves a process holding its output, and the
post/failed phase as a whole. With no hooks, a run costs one directory listing.
"""

import contextlib
import os
import re
import selectors
import signal
import subprocess
import threading
import time

from ..errors import HookError
from ..log import log, redactor

PHASES = ("pre", "post", "failed")
# run-parts' default naming rule (Debian): names of letters, digits, underscores and hyphens
# only, so that dpkg's leftovers (.dpkg-old, .dpkg-dist, foo~) never run
_RUN_PARTS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
MARKER = "hooks-pending"
# How long a hook's output is still read once the hook ended or was killed: a process it left
# behind (a daemon in a session of its own escapes the killpg) may hold the pipe for good.
READ_GRACE = 1.0
POLL = 0.05           # how often a silent running hook is checked for its end
# The post/failed phase's bound, past len(hooks) x (timeout + the graces of run_one).
FINISH_SLACK = 5.0
STOP_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
# Kept even when a short secret happens to occur in them (a password "sbin" in PATH)
_ALWAYS_KEPT = frozenset(("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "TZ", "TERM"))


class PreHookFailed(HookError):
    """A `pre` hook failed: the application may not be in a consistent state."""


def hook_files(directory):
    """The hooks to run, in run-parts order: executable regular files whose names follow the
    rule, sorted by name in the C locale. A missing directory has none."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in sorted(names):
        path = os.path.join(directory, name)
        if _RUN_PARTS_NAME.match(name) and os.path.isfile(path) and os.access(path, os.X_OK):
            found.append(path)
    return found


def environment(phase, trigger, series, server_id, image_name, changes=None, image_id=None,
                previous=None, base=None):
    """The hook's environment: ours on top of the run's own (PATH, HOME and the locale stay),
    less the cloud's credentials: no OS_* variable, and nothing that holds a registered secret
    (a hook has no business with them, and its output reaches apt's terminal and the log)."""
    secrets = tuple(redactor.secrets)
    env = {name: value for name, value in (os.environ if base is None else base).items()
           if name in _ALWAYS_KEPT or not name.startswith("OS_")
           and not any(secret in value for secret in secrets)}
    env.update(NSH_PHASE=phase, NSH_TRIGGER=trigger, NSH_SERIES=series,
               NSH_SERVER_ID=server_id or "", NSH_IMAGE_NAME=image_name)
    if changes:
        env["NSH_CHANGES"] = changes
    if image_id and phase != "pre":
        env["NSH_IMAGE_ID"] = image_id
    if previous:
        env["NSH_PREVIOUS"] = previous
    return env


def run_one(path, phase, env, timeout):
    """Run one hook; (exit status or None when killed at the timeout, seconds, output lines).
    Returns at most READ_GRACE after the hook ended, or after its timeout plus twice that."""
    started = time.monotonic()
    process = subprocess.Popen([path, phase], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    chunks = []
    try:
        status, held = _collect(process, chunks, started + max(0.1, timeout))
    except BaseException:            # the watchdog, a signal: leave no hook behind
        _kill_group(process)
        _reap(process)
        raise
    finally:
        process.stdout.close()
    if held:
        log.warning(f"hook {os.path.basename(path)} ({phase}) left a process holding its output "
                    f"open; its output was read for {READ_GRACE:g} s more, then dropped (send a "
                    "background process's output elsewhere, e.g. >/dev/null 2>&1)")
    lines = b"".join(chunks).decode("utf-8", "replace").splitlines()
    return status, time.monotonic() - started, lines


def _collect(process, chunks, deadline):
    """Read the hook's output into `chunks` until the end of it, but never wait on the end of
    the pipe alone: whoever inherited it may keep it open for good. (status, held): status is
    None when the hook was killed at `deadline`; held when the pipe was still open at the end."""
    fd = process.stdout.fileno()
    status, ended = None, None       # `ended`: when the hook exited or was killed
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if ended is None:
                status = process.poll()
                if status is None and now >= deadline:
                    _kill_group(process)
                if status is not None or now >= deadline:
                    ended = now
            if ended is None:
                wait = min(POLL, deadline - now)
            else:
                wait = ended + READ_GRACE - now
                if wait <= 0:
                    held = True
                    break
            if selector.select(max(0.0, wait)):
                data = os.read(fd, 65536)
                if not data:
                    held = False         # the end of the output
                    break
                chunks.append(data)
    if ended is None:                # the output ended first: the hook itself may go on
        try:
            status = process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(process)
    if status is None:
        _reap(process)
    return status, held


def _reap(process):
    """Wait for a killed hook, briefly: one stuck in the kernel (D state) is left to the OS."""
    try:
        process.wait(timeout=READ_GRACE)
    except subprocess.TimeoutExpired:
        log.debug(f"hook process {process.pid} did not end after SIGKILL")


@contextlib.contextmanager
def _held_signals():
    """SIGHUP, SIGINT and SIGTERM noted, not acted on, while the post or failed hooks run: a
    dropped SSH session sends SIGHUP more than once, and the second must not cut them short.
    Yields the list of those that came; the handlers are given back exactly."""
    held, previous = [], {}

    def note(signum, frame):
        held.append(signum)

    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) not in (signal.SIG_IGN, None):  # None: not ours to replace
                previous[signum] = signal.signal(signum, note)
    try:
        yield held
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Hooks:
    """The hooks of one backup run; `context` holds NSH_* values (see environment())."""

    def __init__(self, directory, timeout, state_dir, context, pre_failure="skip"):
        self.directory, self.timeout, self.state_dir = directory, timeout, state_dir
        self.context, self.pre_failure = context, pre_failure
        self.files = hook_files(directory)
        self.pre_ran = False
        self.finished = False
        self.previous = None

    def __bool__(self):
        return bool(self.files)

    def run(self, phase, image_id=None, time_left=None):
        """Run every hook for `phase`; [(name, status)]. `time_left` caps each hook's time (the
        run's deadline); post and failed always get their full timeout."""
        results = []
        env = environment(phase, image_id=image_id, previous=self.previous, **self.context)
        for path in self.files:
            limit = self.timeout if time_left is None else min(self.timeout, time_left())
            name = os.path.basename(path)
            status, seconds, lines = run_one(path, phase, env, limit)
            for line in lines:
                log.info(f"hook {name} {phase}: {line}")
            what = "killed at its timeout" if status is None else f"exit status {status}"
            log.debug(f"hook {name} {phase}: {what} after {seconds:.2f} s")
            if status is None:
                log.warning(f"hook {name} ({phase}) was killed after {limit:.0f} s "
                            "([hooks] timeout)")
            elif status != 0 and phase != "pre":
                log.warning(f"hook {name} ({phase}) failed with exit status {status}")
            results.append((name, status))
        return results

    # -- the invariant ------------------------------------------------------------------------
    def start(self, time_left=None):
        """The `pre` phase. Raises PreHookFailed when a hook fails and pre_failure is skip;
        with `snapshot`, warns and goes on."""
        if not self.files:
            return
        self.previous = self._take_marker()
        if self.previous:
            log.warning("the previous backup run was killed after its pre hooks and before its "
                        "post or failed hooks (kill -9?); the hooks see NSH_PREVIOUS=interrupted")
        self._set_marker()
        self.pre_ran = True
        failed = [f"{name} ({'killed at its timeout' if status is None else f'exit status {status}'})"
                  for name, status in self.run("pre", time_left=time_left) if status != 0]
        if not failed:
            return
        if self.pre_failure == "snapshot":
            log.warning(f"pre hook {', '.join(failed)} failed: taking the crash-consistent "
                        "backup anyway ([hooks] pre_failure = snapshot)")
            return
        raise PreHookFailed(f"pre hook {', '.join(failed)} failed: no backup taken, the "
                            "application may not be in a consistent state",
                            fix=f"see the hook's output above, fix it in {self.directory}, or "
                                "set [hooks] pre_failure = snapshot")

    def finish(self, phase, image_id=None):
        """`post` or `failed`, once: after `pre` ran, exactly one of them runs.

        The watchdog is held (a lock must be released even past the deadline) but the phase
        keeps a bound of its own; SIGHUP, SIGINT and SIGTERM wait until the hooks are done."""
        if not self.pre_ran or self.finished:
            return
        self.finished = True
        from ..deadline import DeadlineExceeded, suspended
        bound = len(self.files) * (self.timeout + 2 * READ_GRACE) + FINISH_SLACK
        with _held_signals() as held:
            try:
                with suspended(bound):
                    self.run(phase, image_id=image_id)
            except DeadlineExceeded:
                log.warning(f"the {phase} hooks were stopped after {bound:.0f} s, past every "
                            "timeout of their own")
                raise
            finally:
                self._clear_marker()
        if held:
            name = signal.Signals(held[0]).name
            if phase == "failed":    # the run is already ending by an exception
                log.debug(f"{name} arrived while the failed hooks ran")
            else:                    # now it may stop the run, the post hooks done
                log.debug(f"{name} arrived while the post hooks ran: delivered now")
                signal.raise_signal(held[0])

    def _marker(self):
        return os.path.join(self.state_dir, MARKER)

    def _take_marker(self):
        try:
            os.unlink(self._marker())
            return "interrupted"
        except FileNotFoundError:
            return None
        except OSError:
            return None

    def _set_marker(self):
        try:
            os.makedirs(self.state_dir, exist_ok=True)
            with open(self._marker(), "w", encoding="ascii") as handle:
                handle.write(f"{os.getpid()}\n")
        except OSError as err:
            log.debug(f"could not note the pending hooks in {self.state_dir}: {err}")

    def _clear_marker(self):
        try:
            os.unlink(self._marker())
        except OSError:
            pass
