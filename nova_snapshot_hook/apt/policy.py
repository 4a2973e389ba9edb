"""Decide whether an apt run gets a snapshot: pure functions of plain values, no I/O.

The rules and their order are the decision precedence (doc/decisions.md); the first that
matches wins:
  1. nothing changes (empty or configure-only action list)       -> no snapshot
  2. NovaSnapshotHook::Skip in apt's config, or the skip variable  -> no snapshot
  3. the hook is switched off in the settings                      -> no snapshot
  4. same transaction as the last snapshot, or within the minimum
     interval after it                                             -> no new one; record the changes
  5. a change matches an "important" glob                          -> snapshot
  6. no change is a triggering operation, the exclude globs cover
     every change, or (when set) no change matches an include glob -> no snapshot
  7. otherwise                                                     -> snapshot
Strict mode travels in the decision; it only changes what a failure does.

Rules 1 and 2 need only apt's stream: ``settle_by_stream`` decides them, for the hook before
the settings are read (and before the action lines are parsed), and for ``decide``, which adds
rules 3-7. So it imports nothing else at the top: not even the settings table, whose defaults
HookPolicy reads on first use (doc/hook-speed.md).
"""

from .stream import Record, parse_bool
from .changes import DOWNGRADE, INSTALL, REINSTALL, REMOVAL, UPGRADE, ChangeSet

SKIP_KEY = "NovaSnapshotHook::Skip"
REQUIRE_KEY = "NovaSnapshotHook::Require"
SKIP_VARIABLE = "NOVA_SNAPSHOT_HOOK_SKIP"
COMMAND_LINE_KEY = "CommandLine::AsString"

OPERATIONS = (INSTALL, UPGRADE, DOWNGRADE, REMOVAL, REINSTALL)
# Decision.rule values, one per rule above (6 has three).
NOTHING, SKIP, DISABLED, SAME_TRANSACTION, MIN_INTERVAL, IMPORTANT = (
    "nothing-to-do", "skip", "disabled", "same-transaction", "min-interval", "important")
OPERATION, EXCLUDED, NOT_INCLUDED, CHANGES = ("operation", "excluded", "not-included", "changes")


class HookPolicy(Record):
    """The apt hook's settings as plain values. Globs are fnmatch patterns on the package name;
    a glob with a colon (``libc6:i386``) is matched against ``name:arch``."""

    __slots__ = ()
    _fields = ("enabled", "operations", "include", "exclude", "important", "min_interval",
               "strict")
    _defaults = None        # the settings table's, read when the first policy is made

    def __new__(cls, *args, **kwargs):
        if cls._defaults is None:
            from ..config import Settings
            cls._defaults = {}
            cls._defaults = dict(zip(cls._fields, cls.from_settings(Settings())))
        return super().__new__(cls, *args, **kwargs)

    @classmethod
    def from_settings(cls, settings, strict=False):
        """The policy of config.Settings; `strict` also when apt's options ask for it."""
        return cls(enabled=settings.apt_enabled, operations=frozenset(settings.apt_operations),
                   include=settings.apt_include, exclude=settings.apt_exclude,
                   important=settings.apt_important, min_interval=settings.apt_min_interval,
                   strict=strict or settings.apt_strict)


class Decision(Record):
    """``snapshot``: take one. ``rule``: which rule settled it (the constants above).
    ``reason``: one line for the log. ``strict``: abort apt if the snapshot fails.
    ``record_changes``: no new snapshot, but add these changes to the last one's record.
    ``lead``: the change to name the image after (None when there is no snapshot)."""

    __slots__ = ()
    _fields = ("snapshot", "rule", "reason", "strict", "record_changes", "lead")
    _defaults = {"record_changes": False, "lead": None}


def frontend_name(config):
    """The program that ran apt, from CommandLine::AsString: ``apt-get``, ``unattended-upgrade``."""
    words = (config.get(COMMAND_LINE_KEY) or "").split(None, 1)
    return words[0].rsplit("/", 1)[-1] if words else ""


def is_unattended_upgrades(frontend):
    return frontend.startswith("unattended-upgrade")


def require_option(config):
    """True when apt's config asks for strict mode (``-o NovaSnapshotHook::Require=true``)."""
    return bool(config.get_bool(REQUIRE_KEY, False))


def settle_by_stream(config, actions, environ=None):
    """Rules 1 and 2, which apt's stream settles alone: a Decision, or None when the settings
    must decide (then parse the action lines and call ``decide``).

    ``actions``: the action list as far as it is known: the hook passes apt's unparsed
    ActionLines, whose ``is_empty`` reads the raw bytes, so that a run settled here never
    parses thousands of lines (doc/hook-speed.md: P1a); ``decide`` passes the ChangeSet. Both
    agree on well-formed lines. Only a ChangeSet's rule-1 reason names the packages. The
    Decision's ``strict`` knows only the Require option."""
    strict = require_option(config)
    if actions.is_empty:
        return Decision(False, NOTHING, _nothing_reason(actions), strict)
    skip = _skip_reason(config, environ or {})
    if skip:
        return Decision(False, SKIP, skip, strict)
    return None


def decide(changes, config, policy, environ=None, current=None, previous=None):
    """All rules in order. ``changes``: a ChangeSet; ``config``: the AptConfig of the dump;
    ``policy``: HookPolicy; ``environ``: the hook's environment; ``current``: this run's
    state.Transaction; ``previous``: the Transaction of the last snapshot taken, or None."""
    strict = bool(policy.strict) or require_option(config)
    settled = settle_by_stream(config, changes, environ)
    if settled is not None:
        return settled.replace(strict=strict)
    if not policy.enabled:
        return Decision(False, DISABLED,
                        "no snapshot: the apt hook is switched off in the settings", strict)
    repeat = _repeat(current, previous, policy.min_interval)
    if repeat:
        return Decision(False, repeat[0], repeat[1], strict, record_changes=True)
    for change in changes:
        glob = _match(change, policy.important)
        if glob:
            return Decision(True, IMPORTANT, f"snapshot: {change.display_name} matches the"
                            f" important glob {glob}", strict, lead=change)
    counting = [c for c in changes if c.kind in policy.operations]
    if not counting:
        operations = ", ".join(o for o in OPERATIONS if o in policy.operations) or "none"
        return Decision(False, OPERATION, "no snapshot: no change is an operation that triggers"
                        f" ({operations})", strict)
    counting = [c for c in counting if not _match(c, policy.exclude)]
    if not counting:
        return Decision(False, EXCLUDED, "no snapshot: the exclude globs cover every change",
                        strict)
    if policy.include:
        counting = [c for c in counting if _match(c, policy.include)]
        if not counting:
            return Decision(False, NOT_INCLUDED, "no snapshot: no change matches the include"
                            " globs", strict)
    lead = counting[0]
    return Decision(True, CHANGES, f"snapshot: {changes.summary(first=lead)}", strict, lead=lead)


def _nothing_reason(actions):
    if not isinstance(actions, ChangeSet):     # unparsed lines: no names to give
        return ("no snapshot: nothing to change (the action list is empty or only configures"
                " packages already unpacked)")
    if not actions.configure_only:
        return "no snapshot: apt's action list is empty"
    return f"no snapshot: nothing to change ({actions.summary()}, already unpacked)"


def _skip_reason(config, environ):
    value = config.get(SKIP_KEY)
    if parse_bool(value, False):
        return f"skipped: {SKIP_KEY}={value}"
    value = environ.get(SKIP_VARIABLE)
    if parse_bool(value, False):
        return f"skipped: {SKIP_VARIABLE}={value}"
    return None


def _repeat(current, previous, min_interval):
    """(rule, reason) when this run belongs to the last snapshot's transaction or interval."""
    if current is None or previous is None:
        return None
    pid = current.frontend_pid
    same_process = pid is not None and pid == previous.frontend_pid
    if same_process and current.fingerprint == previous.fingerprint:
        return SAME_TRANSACTION, (f"no new snapshot: apt repeated the last snapshot's action list"
                                  f" (frontend pid {pid}); changes recorded")
    # One unattended-upgrades process is one run, however many steps (MinimalSteps) it commits.
    if (same_process and is_unattended_upgrades(current.frontend)
            and current.frontend == previous.frontend):
        return SAME_TRANSACTION, (f"no new snapshot: same unattended-upgrades run (pid {pid}) as"
                                  f" the last snapshot; changes recorded")
    elapsed = current.time - previous.time
    # A clock that went backwards proves nothing about the interval: snapshot rather than skip.
    if 0 <= elapsed < min_interval:
        return MIN_INTERVAL, (f"no new snapshot: the last one was {elapsed:.0f} s ago, within the"
                              f" minimum interval of {min_interval:g} s; changes recorded")
    return None


def _match(change, globs):
    """The first glob matching the change, or None."""
    if not globs:
        return None
    from fnmatch import fnmatchcase  # imports re: only once the settings are in play
    qualified = f"{change.name}:{change.arch}" if change.arch else change.name
    for glob in globs:
        if fnmatchcase(qualified if ":" in glob else change.name, glob):
            return glob
    return None
