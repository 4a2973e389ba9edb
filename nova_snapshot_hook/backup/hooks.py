"""The user's hooks around a backup of this server: /etc/nova-snapshot-hook/hooks.d, run-parts style.

Phases, the first argument of each hook: `pre` before the snapshot request; `post` once the disk
is captured (the earliest moment an application lock may be released); `failed` when the backup
failed after `pre` ran. The invariant: once `pre` has run, `post` or `failed` runs, whatever ends
the backup (an error, a capture timeout, the watchdog, SIGTERM, Ctrl-C). Only `kill -9` escapes
it; a marker file tells the next run (NSH_PREVIOUS=interrupted).

Each hook runs in a process group of its own, with [hooks] timeout; a hung one is killed with its
group. With no hooks, a run costs one directory listing.
"""

import os
import re
import signal
import subprocess
import time

from ..errors import HookError
from ..log import log

PHASES = ("pre", "post", "failed")
# run-parts' default naming rule (Debian): names of letters, digits, underscores and hyphens
# only, so that dpkg's leftovers (.dpkg-old, .dpkg-dist, foo~) never run
_RUN_PARTS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
MARKER = "hooks-pending"


class PreHookFailed(HookError):
    """A `pre` hook failed: the application may not be in a consistent state."""


class Interrupted(HookError):
    """SIGTERM arrived during a backup whose hooks must still be finished."""


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
    """The hook's environment: ours on top of the run's own (PATH and the locale stay)."""
    env = dict(os.environ if base is None else base)
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
    """Run one hook; (exit status or None when killed at the timeout, seconds, output lines)."""
    started = time.monotonic()
    process = subprocess.Popen([path, phase], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=max(0.1, timeout))
        status = process.returncode
    except subprocess.TimeoutExpired:
        _kill_group(process)
        output, _ = process.communicate()
        status = None
    except BaseException:            # the watchdog or Ctrl-C: leave no hook behind
        _kill_group(process)
        process.wait()
        raise
    lines = output.decode("utf-8", "replace").splitlines()
    return status, time.monotonic() - started, lines


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
        """`post` or `failed`, once: after `pre` ran, exactly one of them runs."""
        if not self.pre_ran or self.finished:
            return
        self.finished = True
        from .watchdog import suspended
        try:
            with suspended():
                self.run(phase, image_id=image_id)
        finally:
            self._clear_marker()

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
