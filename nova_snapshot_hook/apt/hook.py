"""`nova-snapshot-hook apt-hook`: apt's DPkg::Pre-Install-Pkgs hook (stream version 3).

apt stream -> change set -> decision -> backup. The exit status is a contract with the line in
/etc/apt/apt.conf.d/80nova-snapshot-hook, which ends in `|| test $? -ne 99`: 99 aborts apt
(strict mode only); every other status, a crash and a missing program let apt go on
(doc/apt-hook-protocol.md).

The fast path (empty or configure-only action list, skip option) decides from apt's stream
alone (policy.settle_by_stream), before the settings, logging or any cloud library is imported
and before the action lines are parsed: it costs about one interpreter start-up, for a
2,000-package upgrade too (doc/hook-speed.md).
"""

import os
import sys
import time

from . import policy, state
from .stream import StreamError, read_stream
from .changes import build_changes
from .state import MAX_CHANGE_PROPERTIES, PROGRAM

ABORT_APT = 99
CANNOT_READ = "cannot read apt's package list"


def say(text, stream=None, level="INFO"):
    """One line in apt's output, in the style of the log lines: `LEVEL: nova-snapshot-hook: ...`.
    A closed terminal (a dropped SSH session) must not turn the exit status into a traceback's."""
    try:
        print(f"{level}: {PROGRAM}{text}", file=stream or sys.stdout, flush=True)
    except (OSError, ValueError):
        pass


def _catch_signals():
    """SIGHUP (a dropped SSH session) and SIGTERM end the run as a failure like any other,
    wherever they come: one warning, or 99 in strict mode. `_signal` is the interpreter's own,
    loaded before any code runs; `signal` would import enum, a tenth of a start-up, on the path
    that must cost about one. A signal ignored on entry (nohup) stays ignored."""
    import _signal
    names = {_signal.SIGHUP: "SIGHUP", _signal.SIGTERM: "SIGTERM"}

    def stop(signum, frame):
        from ..errors import Interrupted
        raise Interrupted(f"stopped by {names[signum]}")
    for signum in names:
        if _signal.getsignal(signum) != _signal.SIG_IGN:
            _signal.signal(signum, stop)


class Run:
    """What the run knows so far about strict mode and its series: a failure anywhere, a
    crash of ours included, is judged by it (clarification: strict, however it was set)."""

    def __init__(self):
        self.strict_option = False
        self.settings = None
        self.config_path = None

    @property
    def strict(self):
        if self.settings is not None:
            return self.strict_option or self.settings.apt_strict
        return self.strict_option or _strict_setting(self.config_path)

    @property
    def series(self):
        return self.settings.apt_series if self.settings is not None else "apt"


def main(argv):
    run = Run()
    if argv[:1] == ["--config"] and len(argv) > 1:
        run.config_path = argv[1]
    try:
        _catch_signals()
        return _main(argv, run)
    except KeyboardInterrupt as err:    # Ctrl-C, or SIGINT from a hook's process group
        return failed("interrupted (SIGINT)", run, record=not getattr(err, "recorded", False))
    except BaseException as err:        # a bug of ours, or a signal turned into an exception
        if isinstance(err, SystemExit) and err.code in (None, 0):
            raise
        return failed(_describe(err), run, record=not getattr(err, "recorded", False))


def _describe(err):
    from ..errors import HookError
    if isinstance(err, HookError):
        return str(err)
    return f"internal error {type(err).__name__}: {err} (please report it)"


def _main(argv, run):
    try:
        stream = _read_apt_stream()
    except StreamError as err:                 # the VERSION line, the config, the reading
        run.strict_option = err.config is not None and policy.require_option(err.config)
        return failed(f"{CANNOT_READ}: {err}", run)
    except (OSError, ValueError) as err:       # a closed or wrong fd: nothing to read
        return failed(f"{CANNOT_READ}: {err}", run)
    run.strict_option = policy.require_option(stream.config)
    # Settled here, the action lines are never checked line by line: a malformed one
    # changes nothing then. No backup was wanted, and in strict mode stopping apt would
    # defeat the skip option that strict mode's own message offers as the way on.
    settled = policy.settle_by_stream(stream.config, stream.action_lines, os.environ)
    if settled is None:
        try:
            actions = stream.action_lines.parse()
        except StreamError as err:
            return failed(f"{CANNOT_READ}: {err}", run)
        changes = build_changes(actions, stream.config.get("APT::Architecture"))
        return _decide_and_snapshot(argv, stream, changes, run)
    if settled.rule == policy.SKIP:
        say(settled.reason)
    return 0


def _read_apt_stream():
    """Always drain the fd: apt blocks on a full pipe while it holds the dpkg lock."""
    fd_text = os.environ.get("APT_HOOK_INFO_FD", "")
    fd = int(fd_text) if fd_text.isdigit() else 0
    if fd > 65535:          # os.fdopen would take a number past any fd table for a path
        raise ValueError(f"APT_HOOK_INFO_FD={fd_text[:20]} is not a file descriptor")
    if not fd_text and os.isatty(0):
        raise ValueError("APT_HOOK_INFO_FD is not set and standard input is a terminal: "
                         "apt runs this command, with its package list")
    with os.fdopen(fd, "rb", closefd=fd != 0) as handle:
        stream = read_stream(handle)           # drained whole; action lines left unparsed
    if not fd_text:
        raise StreamError("APT_HOOK_INFO_FD is not set (this command is run by apt)",
                          stream.config)
    return stream


def _strict_setting(path=None):
    """Strict mode from the settings, for failures that come before the settings are read (or
    when they cannot be read: then it is not known, and apt goes on)."""
    try:
        from ..config import load_settings
        return load_settings(path).apt_strict
    except Exception:
        return False


def failed(reason, run, record=True):
    """One line, then fail-open (apt goes on) or, in strict mode, abort apt before dpkg runs.
    Recorded for `status` when `record` (not what take_backup has recorded already)."""
    from ..text import printable            # a failure path: the reason may quote the cloud
    strict, reason = run.strict, printable(reason)
    if record:
        _record_failure(run, reason)
    if strict:
        say(f"no backup image before this apt run: {reason}. Strict mode: apt stops before "
            "dpkg changes anything (apt -o NovaSnapshotHook::Skip=true ... goes on without a "
            "backup).", sys.stderr, "ERROR")
        return ABORT_APT
    say(f"no backup image before this apt run: {reason}. apt goes on.", sys.stderr, "WARNING")
    return 0


def _record_failure(run, reason):
    """A failure before or outside take_backup (apt's stream, the settings, a crash): `status`
    must see it too. Never raises: recording is not worth a second failure."""
    try:
        from ..backup.attempts import record_attempt
        from ..log import redactor
        server = run.settings.server_id or None if run.settings is not None else None
        record_attempt(run.series, "apt", server, error=redactor.mask(reason))
    except BaseException:
        pass


def _parent_and_command(pid):
    """(parent pid, command line) of a process, from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return parent, handle.read()
    except (OSError, ValueError, IndexError):
        return None


def _frontend_pid():
    """The process that started this apt transaction.

    apt runs us through `sh -c`, so the frontend is sh's parent. python-apt frontends
    (unattended-upgrades, GUI updaters) fork a child per commit that runs dpkg: walk up while
    the parent runs the same command, so every commit of one run names the same process.
    """
    shell = _parent_and_command(os.getppid())
    if shell is None:
        return None
    pid = shell[0]
    here = _parent_and_command(pid)
    while here is not None and here[0] > 1:
        parent = _parent_and_command(here[0])
        if parent is None or parent[1] != here[1]:
            break
        pid, here = here[0], parent
    return pid


def _decide_and_snapshot(argv, stream, changes, run):
    from ..config import load_settings
    from ..errors import HookError

    try:
        settings = load_settings(run.config_path)
    except HookError as err:
        return failed(str(err), run)
    run.settings = settings
    hook_policy = policy.HookPolicy.from_settings(settings, run.strict_option)
    strict = hook_policy.strict
    current = state.Transaction(stream.action_lines.fingerprint(), _frontend_pid(), time.time(),
                                policy.frontend_name(stream.config))
    previous = state.parse_last_snapshot(state.read(state.LAST_SNAPSHOT) or "")
    decision = policy.decide(changes, stream.config, hook_policy, os.environ, current, previous)
    if not decision.snapshot:
        # Printed, not logged: logging's import would cost this path a third of a start-up.
        if decision.record_changes:
            _record_later_changes(decision, changes, previous, settings.syslog)
        elif decision.rule != policy.DISABLED:
            say(decision.reason)
        return 0

    from ..cloud.credentials import CredentialsNotConfigured
    from ..context import Context
    from ..log import log
    try:
        with Context.for_settings(settings, prefix=PROGRAM) as ctx:
            result = _snapshot(ctx, changes, decision, current)
    except CredentialsNotConfigured as err:
        if strict:
            return failed(str(err), run, record=False)   # not an attempt: nothing to record
        log.info(f"no backup image: no credentials configured yet ({err})")
        return 0
    state.write(state.LAST_SNAPSHOT,
                state.format_last_snapshot(current.replace(image_id=result.image_id)))
    state.write(state.PENDING_OUTCOME,
                state.format_pending_outcome(result.image_id, changes.expected_versions()))
    return 0


def _record_later_changes(decision, changes, previous, use_syslog):
    """No new backup: say so, log the changes, and leave them for apt-post-invoke to add to
    the earlier backup's properties (it runs once dpkg is done, outside the decision path)."""
    line = f"{decision.reason}: {changes.listing()}"
    say(line)
    if use_syslog:
        import syslog
        syslog.openlog("nova-snapshot-hook", syslog.LOG_PID)
        syslog.syslog(syslog.LOG_INFO, line)
    if previous.image_id:
        from ..rules.naming import MAX_PROPERTY_VALUE
        state.write(state.LATER_CHANGES, state.format_later_changes(
            previous.image_id, changes.listing_chunks(MAX_PROPERTY_VALUE),
            state.read(state.LATER_CHANGES)))


def _snapshot(ctx, changes, decision, current):
    from ..backup.snapshotter import SnapshotRequest
    from ..backup.take import take_backup
    from ..log import SUCCESS, log
    from ..rules import naming
    settings = ctx.settings

    what = changes.summary(first=decision.lead, old_versions=False)
    summary = changes.summary(first=decision.lead)
    log.info(f"Start OpenStack snapshot before apt changes packages: {summary}.")
    properties = {naming.PREFIX + "changes": summary,
                  naming.PREFIX + "frontend": current.frontend or "apt",
                  naming.PREFIX + "outcome": "pending"}
    chunks = changes.listing_chunks(naming.MAX_PROPERTY_VALUE)
    for number, chunk in enumerate(chunks[:MAX_CHANGE_PROPERTIES], 1):
        properties[f"{naming.PREFIX}change_{number:02d}"] = chunk
    request = SnapshotRequest(
        series=settings.apt_series, rotation=settings.apt_rotation, wait="captured",
        method=settings.method, trigger="apt", properties=properties,
        name=naming.image_name(os.uname().nodename, settings.apt_series, time.time(), what=what),
        poll_interval=settings.poll_interval)
    strict = decision.strict
    last_words = (f"{'ERROR' if strict else 'WARNING'}: {PROGRAM}no backup image before this apt "
                  f"run: the hard deadline passed. {'Strict mode: apt stops.' if strict else 'apt goes on.'}",
                  ABORT_APT if strict else 0)
    with ctx.bounded(settings.apt_wait, last_words=last_words):
        result = take_backup(ctx, request)
    log.log(SUCCESS, f"Backup image {result.name} ({result.image_id}) captured in "
                     f"{result.seconds:.1f} s; dpkg goes on.")
    return result
