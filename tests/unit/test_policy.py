"""The snapshot decision: the decision precedence of doc/decisions.md, first match wins."""

import io
from pathlib import Path

import pytest

from nova_snapshot_hook.apt import policy
from nova_snapshot_hook.apt.stream import AptConfig, parse_stream, read_stream
from nova_snapshot_hook.apt.changes import build_changes
from nova_snapshot_hook.apt.policy import Decision, HookPolicy, decide, settle_by_stream
from nova_snapshot_hook.apt.state import Transaction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apt-hook"

NOW = 1795665960.0
APT_GET = AptConfig({"CommandLine::AsString": "apt-get upgrade"})
SKIP = AptConfig({"CommandLine::AsString": "apt-get upgrade", "NovaSnapshotHook::Skip": "true"})
KERNEL = "linux-image-6.1.0-13-amd64 - - none < 6.1.55-1 amd64 none /x/linux-image.deb"
KERNEL_CONFIGURE = ("linux-image-6.1.0-13-amd64 6.1.55-1 amd64 none = 6.1.55-1 amd64 none"
                    " **CONFIGURE**")
LESS_UPGRADE = "less 590-2 amd64 foreign < 590-2.1~deb12u2 amd64 foreign /x/less.deb"
LESS_INSTALL = "less - - none < 590-2.1~deb12u2 amd64 foreign /x/less.deb"
HELLO_REMOVE = "hello 2.10-3 amd64 none > - - none **REMOVE**"


def changes_of(*lines):
    data = b"VERSION 3\nAPT::Architecture=amd64\n\n" + b"".join(l.encode() + b"\n" for l in lines)
    return build_changes(parse_stream(data).action_lines.parse(), "amd64")


def run(pid=100, fingerprint="f1", at=NOW, frontend="apt-get"):
    return Transaction(fingerprint, pid, at, frontend)


def fixture(name):
    return read_stream(io.BytesIO((FIXTURES / name).read_bytes()))


# --- 1. nothing to do ---

def test_empty_action_list_means_no_snapshot_even_when_everything_else_wants_one():
    decision = decide(changes_of(), APT_GET, HookPolicy())
    assert (decision.snapshot, decision.rule) == (False, policy.NOTHING)
    assert decision.reason == "no snapshot: apt's action list is empty"


def test_configure_only_run_beats_the_skip_option_and_an_important_package():
    decision = decide(changes_of(KERNEL_CONFIGURE), SKIP, HookPolicy())
    assert (decision.snapshot, decision.rule) == (False, policy.NOTHING)
    assert "linux-image-6.1.0-13-amd64" in decision.reason


# --- 2. skip ---

def test_skip_option_beats_a_switched_off_hook_and_an_important_package():
    decision = decide(changes_of(KERNEL), SKIP, HookPolicy(enabled=False))
    assert (decision.snapshot, decision.rule) == (False, policy.SKIP)
    assert decision.reason == "skipped: NovaSnapshotHook::Skip=true"


@pytest.mark.parametrize("key", ["NovaSnapshotHook::Skip", "novasnapshothook::skip",
                                 "NOVASNAPSHOTHOOK::SKIP"])
@pytest.mark.parametrize("value", ["true", "TRUE", "yes", "Yes", "1", "on", "On"])
def test_skip_option_is_read_case_insensitively(key, value):
    decision = decide(changes_of(LESS_UPGRADE), AptConfig({key: value}), HookPolicy())
    assert (decision.snapshot, decision.rule) == (False, policy.SKIP)


@pytest.mark.parametrize("value", ["false", "0", "no", "off", "maybe", ""])
def test_skip_option_that_is_not_true_does_not_skip(value):
    config = AptConfig({"NovaSnapshotHook::Skip": value})
    decision = decide(changes_of(LESS_UPGRADE), config, HookPolicy(important=()))
    assert (decision.snapshot, decision.rule) == (True, policy.CHANGES)


def test_skip_variable_skips_and_names_itself():
    decision = decide(changes_of(KERNEL), APT_GET, HookPolicy(enabled=False),
                      environ={"NOVA_SNAPSHOT_HOOK_SKIP": "1"})
    assert (decision.snapshot, decision.rule) == (False, policy.SKIP)
    assert decision.reason == "skipped: NOVA_SNAPSHOT_HOOK_SKIP=1"


def test_skip_variable_set_to_zero_does_not_skip():
    decision = decide(changes_of(LESS_UPGRADE), APT_GET, HookPolicy(),
                      environ={"NOVA_SNAPSHOT_HOOK_SKIP": "0"})
    assert decision.snapshot is True


# --- 3. switched off ---

def test_switched_off_hook_beats_the_same_transaction_and_an_important_package():
    decision = decide(changes_of(KERNEL), APT_GET, HookPolicy(enabled=False),
                      current=run(), previous=run(at=NOW - 1))
    assert (decision.snapshot, decision.rule, decision.record_changes) == \
        (False, policy.DISABLED, False)


# --- 4. same transaction / minimum interval ---

def test_repeated_stream_from_the_same_process_is_the_same_transaction_not_an_important_one():
    decision = decide(changes_of(KERNEL), APT_GET, HookPolicy(min_interval=0),
                      current=run(at=NOW), previous=run(at=NOW - 3600))
    assert (decision.snapshot, decision.rule) == (False, policy.SAME_TRANSACTION)
    assert decision.record_changes is True
    assert decision.reason.endswith("changes recorded")


def test_same_stream_from_another_process_is_a_new_transaction():
    decision = decide(changes_of(LESS_UPGRADE), APT_GET, HookPolicy(min_interval=0),
                      current=run(pid=101), previous=run(pid=100, at=NOW - 1))
    assert (decision.snapshot, decision.rule) == (True, policy.CHANGES)


def test_later_step_of_the_same_unattended_upgrades_run_is_the_same_transaction():
    step2 = run(fingerprint="step2", frontend="unattended-upgrade")
    step1 = run(fingerprint="step1", at=NOW - 3600, frontend="unattended-upgrade")
    decision = decide(changes_of(KERNEL), APT_GET, HookPolicy(min_interval=0),
                      current=step2, previous=step1)
    assert (decision.snapshot, decision.rule, decision.record_changes) == \
        (False, policy.SAME_TRANSACTION, True)


def test_other_stream_from_a_long_lived_frontend_process_is_a_new_transaction():
    # PackageKit's daemon commits unrelated transactions from one pid, days apart.
    decision = decide(changes_of(LESS_UPGRADE), APT_GET, HookPolicy(min_interval=0),
                      current=run(fingerprint="b", frontend="packagekitd"),
                      previous=run(fingerprint="a", at=NOW - 86400, frontend="packagekitd"))
    assert (decision.snapshot, decision.rule) == (True, policy.CHANGES)


def test_run_within_the_minimum_interval_beats_an_important_package():
    decision = decide(changes_of(KERNEL), APT_GET, HookPolicy(min_interval=600),
                      current=run(pid=2), previous=run(pid=1, fingerprint="other", at=NOW - 10))
    assert (decision.snapshot, decision.rule, decision.record_changes) == \
        (False, policy.MIN_INTERVAL, True)
    assert decision.reason == ("no new snapshot: the last one was 10 s ago, within the minimum"
                               " interval of 600 s; changes recorded")


def test_run_exactly_at_the_minimum_interval_gets_a_snapshot():
    decision = decide(changes_of(LESS_UPGRADE), APT_GET, HookPolicy(min_interval=600),
                      current=run(pid=2), previous=run(pid=1, fingerprint="x", at=NOW - 600))
    assert decision.snapshot is True


def test_clock_gone_backwards_does_not_suppress_the_snapshot():
    decision = decide(changes_of(LESS_UPGRADE), APT_GET, HookPolicy(min_interval=600),
                      current=run(pid=2), previous=run(pid=1, fingerprint="x", at=NOW + 60))
    assert decision.snapshot is True


def test_no_previous_snapshot_means_no_interval_to_respect():
    decision = decide(changes_of(LESS_UPGRADE), APT_GET, HookPolicy(), current=run())
    assert decision.snapshot is True


def test_unattended_upgrades_twin_runs_of_the_captured_stream_give_one_snapshot():
    stream = fixture("bookworm-unattended-upgrades-step.txt")
    changes = build_changes(stream.action_lines.parse(), "amd64")
    frontend = policy.frontend_name(stream.config)
    first = Transaction(stream.action_lines.fingerprint(), 4242, NOW, frontend)
    twin = Transaction(fixture("bookworm-unattended-upgrades-step.txt").action_lines.fingerprint(),
                       4242, NOW + 0.4, frontend)
    assert frontend == "unattended-upgrade"
    assert decide(changes, stream.config, HookPolicy(), current=first).snapshot is True
    second = decide(changes, stream.config, HookPolicy(min_interval=0), current=twin,
                    previous=first)
    assert (second.snapshot, second.rule) == (False, policy.SAME_TRANSACTION)


def test_frontend_name_comes_from_the_command_line_key_in_any_case():
    assert policy.frontend_name(fixture("bookworm-remove.txt").config) == "apt-get"
    unattended = AptConfig({"Commandline::AsString": "/usr/bin/unattended-upgrade -v"})
    assert policy.frontend_name(unattended) == "unattended-upgrade"
    assert policy.frontend_name(AptConfig()) == ""


# --- 5. important ---

def test_important_package_beats_a_non_triggering_operation_and_the_exclude_globs():
    rules = HookPolicy(operations=frozenset({"upgrade"}), exclude=("*",))
    decision = decide(changes_of(LESS_INSTALL, KERNEL), APT_GET, rules)
    assert (decision.snapshot, decision.rule) == (True, policy.IMPORTANT)
    assert decision.lead.name == "linux-image-6.1.0-13-amd64"
    assert decision.reason == ("snapshot: linux-image-6.1.0-13-amd64 matches the important glob"
                               " linux-image-*")


def test_default_important_globs_cover_kernel_and_boot_but_not_headers():
    rules = HookPolicy(operations=frozenset())
    for name in ("linux-image-amd64", "grub-pc", "libc6", "systemd", "openssh-server"):
        assert decide(changes_of(f"{name} 1 amd64 none < 2 amd64 none /x.deb"), APT_GET,
                      rules).rule == policy.IMPORTANT, name
    headers = changes_of("linux-headers-amd64 1 amd64 none < 2 amd64 none /x.deb")
    assert decide(headers, APT_GET, rules).rule == policy.OPERATION


def test_glob_with_an_architecture_matches_only_that_architecture():
    changes = changes_of("libc6 1 amd64 same < 2 amd64 same /a.deb",
                         "libc6 1 i386 same < 2 i386 same /b.deb")
    decision = decide(changes, APT_GET, HookPolicy(important=(), exclude=("libc6:i386",)))
    assert decision.lead.display_name == "libc6:amd64"
    everything = decide(changes, APT_GET, HookPolicy(important=(), exclude=("libc6",)))
    assert everything.rule == policy.EXCLUDED


# --- 6. operations, exclude, include ---

def test_operation_filter_is_applied_before_the_exclude_globs():
    rules = HookPolicy(important=(), operations=frozenset({"upgrade"}), exclude=("less",))
    decision = decide(changes_of(LESS_INSTALL), APT_GET, rules)
    assert (decision.snapshot, decision.rule) == (False, policy.OPERATION)
    assert decision.reason == "no snapshot: no change is an operation that triggers (upgrade)"


def test_exclude_globs_covering_every_change_are_reported_before_the_include_globs():
    rules = HookPolicy(important=(), exclude=("less", "hel*"), include=("nginx*",))
    decision = decide(changes_of(LESS_UPGRADE, HELLO_REMOVE), APT_GET, rules)
    assert (decision.snapshot, decision.rule) == (False, policy.EXCLUDED)


def test_exclude_globs_covering_some_changes_leave_the_others_to_trigger():
    rules = HookPolicy(important=(), exclude=("less",))
    decision = decide(changes_of(LESS_UPGRADE, HELLO_REMOVE), APT_GET, rules)
    assert (decision.snapshot, decision.rule, decision.lead.name) == (True, policy.CHANGES, "hello")


def test_include_globs_matching_nothing_mean_no_snapshot():
    rules = HookPolicy(important=(), include=("nginx*",))
    decision = decide(changes_of(LESS_UPGRADE), APT_GET, rules)
    assert (decision.snapshot, decision.rule) == (False, policy.NOT_INCLUDED)


def test_include_globs_pick_the_change_that_counts():
    rules = HookPolicy(important=(), include=("hello",))
    decision = decide(changes_of(LESS_UPGRADE, HELLO_REMOVE), APT_GET, rules)
    assert (decision.snapshot, decision.lead.name) == (True, "hello")
    assert decision.reason == "snapshot: remove hello 2.10-3 and 1 more"


def test_include_globs_only_count_triggering_operations():
    rules = HookPolicy(important=(), include=("less",), operations=frozenset({"remove"}))
    decision = decide(changes_of(LESS_UPGRADE, HELLO_REMOVE), APT_GET, rules)
    assert decision.rule == policy.NOT_INCLUDED


def test_reinstall_does_not_trigger_by_default_but_can_be_asked_for():
    reinstall = changes_of("less 590-2 amd64 foreign = 590-2 amd64 foreign /x/less.deb")
    assert decide(reinstall, APT_GET, HookPolicy()).rule == policy.OPERATION
    asked = HookPolicy(operations=HookPolicy().operations | {"reinstall"})
    assert decide(reinstall, APT_GET, asked).snapshot is True


# --- 7. otherwise ---

def test_ordinary_change_gets_a_snapshot_named_after_dpkgs_first_change():
    decision = decide(changes_of(LESS_UPGRADE, HELLO_REMOVE), APT_GET, HookPolicy())
    assert (decision.snapshot, decision.rule, decision.lead.name) == (True, policy.CHANGES, "less")
    assert decision.reason == "snapshot: upgrade less 590-2 -> 590-2.1~deb12u2 and 1 more"
    assert decision.record_changes is False


@pytest.mark.parametrize("name", ["bookworm-install-and-upgrade.txt", "bookworm-install-new.txt",
                                  "bookworm-purge.txt", "bookworm-remove.txt",
                                  "bookworm-unattended-upgrades-step.txt"])
def test_every_captured_stream_gets_a_snapshot_under_the_defaults(name):
    stream = fixture(name)
    decision = decide(build_changes(stream.action_lines.parse(), "amd64"), stream.config,
                      HookPolicy())
    assert (decision.snapshot, decision.rule) == (True, policy.CHANGES)


# --- strict mode ---

SCENARIOS = {  # rule -> (changes, config values, policy, current, previous)
    policy.NOTHING: lambda: (changes_of(), {}, HookPolicy(), None, None),
    policy.SKIP: lambda: (changes_of(KERNEL), {"NovaSnapshotHook::Skip": "on"}, HookPolicy(),
                          None, None),
    policy.DISABLED: lambda: (changes_of(KERNEL), {}, HookPolicy(enabled=False), None, None),
    policy.SAME_TRANSACTION: lambda: (changes_of(KERNEL), {}, HookPolicy(), run(), run()),
    policy.MIN_INTERVAL: lambda: (changes_of(KERNEL), {}, HookPolicy(), run(pid=2),
                                  run(pid=1, at=NOW - 5)),
    policy.IMPORTANT: lambda: (changes_of(KERNEL), {}, HookPolicy(), None, None),
    policy.OPERATION: lambda: (changes_of(LESS_INSTALL), {},
                               HookPolicy(operations=frozenset({"upgrade"})), None, None),
    policy.EXCLUDED: lambda: (changes_of(LESS_INSTALL), {}, HookPolicy(exclude=("*",)),
                              None, None),
    policy.NOT_INCLUDED: lambda: (changes_of(LESS_INSTALL), {}, HookPolicy(include=("x",)),
                                  None, None),
    policy.CHANGES: lambda: (changes_of(LESS_INSTALL), {}, HookPolicy(), None, None),
}


@pytest.mark.parametrize("rule", sorted(SCENARIOS))
def test_strict_mode_travels_in_the_decision_but_never_changes_it(rule):
    changes, values, rules, current, previous = SCENARIOS[rule]()

    def decide_with(values, rules):
        return decide(changes, AptConfig(values), rules, current=current, previous=previous)

    plain = decide_with(values, rules)
    by_setting = decide_with(values, rules.replace(strict=True))
    by_option = decide_with({**values, "NovaSnapshotHook::Require": "true"}, rules)
    assert plain.rule == rule and plain.strict is False
    assert by_setting.strict is True and by_option.strict is True
    assert by_setting.replace(strict=False) == plain == by_option.replace(strict=False)


def test_require_option_marks_a_stream_settled_decision_strict():
    decision = settle_by_stream(AptConfig({"NovaSnapshotHook::Require": "yes"}), changes_of())
    assert decision.strict is True and decision.snapshot is False


def test_require_false_does_not_undo_strict_settings():
    decision = decide(changes_of(LESS_UPGRADE), AptConfig({"NovaSnapshotHook::Require": "false"}),
                      HookPolicy(strict=True))
    assert decision.strict is True


# --- the stream-only shortcut ---

def test_stream_alone_settles_empty_and_skip_and_nothing_else():
    assert settle_by_stream(APT_GET, changes_of()).rule == policy.NOTHING
    assert settle_by_stream(SKIP, changes_of(LESS_UPGRADE)).rule == policy.SKIP
    assert settle_by_stream(APT_GET, changes_of(LESS_UPGRADE),
                            {"NOVA_SNAPSHOT_HOOK_SKIP": "yes"}).rule == policy.SKIP
    assert settle_by_stream(APT_GET, changes_of(KERNEL)) is None


def test_stream_settled_decision_is_what_the_full_decision_says():
    for changes, config in ((changes_of(), APT_GET), (changes_of(KERNEL), SKIP)):
        assert settle_by_stream(config, changes) == decide(changes, config,
                                                           HookPolicy(enabled=False))


def test_decide_takes_rules_1_and_2_from_the_one_entry(monkeypatch):
    asked = []

    def settled(config, actions, environ=None):
        asked.append((config, actions, environ))
        return Decision(False, "from-the-entry", "r", False)

    monkeypatch.setattr(policy, "settle_by_stream", settled)
    changes, environ = changes_of(KERNEL), {"X": "1"}
    decision = decide(changes, APT_GET, HookPolicy(strict=True), environ)
    assert decision == Decision(False, "from-the-entry", "r", True)   # strict from the policy
    assert asked == [(APT_GET, changes, environ)]


def test_the_old_entries_for_rules_1_and_2_are_gone():
    assert not any(hasattr(policy, name) for name in (
        "decide_from_stream", "decide_skip_unparsed"))


# --- records ---

def test_policy_is_frozen_with_documented_defaults():
    rules = HookPolicy()
    assert rules.enabled is True and rules.strict is False
    assert rules.operations == {"install", "upgrade", "downgrade", "remove"}
    assert "linux-image-*" in rules.important and rules.include == () and rules.exclude == ()
    assert rules.min_interval == 600
    with pytest.raises(AttributeError):
        rules.enabled = False
    with pytest.raises(TypeError):
        HookPolicy(enable=False)


def test_decision_is_a_plain_value():
    assert Decision(False, policy.SKIP, "r", False) == Decision(False, policy.SKIP, "r", False,
                                                                record_changes=False, lead=None)


# --- settled from the unparsed action lines (the hook's fast path) ---

REQUIRE_SKIP = AptConfig({"NovaSnapshotHook::Skip": "yes", "NovaSnapshotHook::Require": "1"})
ACTION_LISTS = {"empty": (), "configure-only": (KERNEL_CONFIGURE,),
                "real": (LESS_UPGRADE, KERNEL_CONFIGURE), "remove": (HELLO_REMOVE,)}


def unparsed(lines, config):
    """The stream as the hook reads it: config parsed, action lines left as bytes."""
    data = b"VERSION 3\nAPT::Architecture=amd64\n" + b"".join(
        f"{key}={value}\n".encode() for key, value in config.items()) + b"\n" + b"".join(
        line.encode() + b"\n" for line in lines)
    return read_stream(io.BytesIO(data))


SETTINGS_OF_SKIP = {  # id -> (apt config, environment, whether skip is set)
    "option": ({"NovaSnapshotHook::Skip": "true"}, {}, True),
    "option-strict": ({"NovaSnapshotHook::Skip": "yes", "NovaSnapshotHook::Require": "1"}, {},
                      True),
    "variable": ({}, {"NOVA_SNAPSHOT_HOOK_SKIP": "1"}, True),
    "variable-over-false-option": ({"NovaSnapshotHook::Skip": "false"},
                                   {"NOVA_SNAPSHOT_HOOK_SKIP": "on"}, True),
    "no-skip": ({}, {}, False),
    "no-skip-strict": ({"NovaSnapshotHook::Require": "1"}, {}, False),
    "false-option": ({"NovaSnapshotHook::Skip": "false"}, {}, False),
    "zero-variable": ({}, {"NOVA_SNAPSHOT_HOOK_SKIP": "0"}, False),
    "not-booleans": ({"NovaSnapshotHook::Skip": "maybe"}, {"NOVA_SNAPSHOT_HOOK_SKIP": ""}, False),
}


@pytest.mark.parametrize("lines", ACTION_LISTS.values(), ids=ACTION_LISTS.keys())
@pytest.mark.parametrize("settings_of_skip", SETTINGS_OF_SKIP.values(), ids=SETTINGS_OF_SKIP.keys())
def test_settled_unparsed_is_what_the_parsed_change_set_settles(lines, settings_of_skip):
    config, environ, skip = settings_of_skip
    stream = unparsed(lines, config)
    fast = settle_by_stream(stream.config, stream.action_lines, environ)
    full = settle_by_stream(stream.config, build_changes(stream.action_lines.parse(), "amd64"),
                            environ)
    nothing = lines in ((), (KERNEL_CONFIGURE,))
    if not nothing and not skip:
        assert fast is None and full is None       # the settings decide: parse, then decide()
        return
    assert (fast.snapshot, fast.rule, fast.strict) == (full.snapshot, full.rule, full.strict)
    if full.rule == policy.SKIP:       # the line the hook prints
        assert fast == full
    assert fast.rule == (policy.NOTHING if nothing else policy.SKIP)
    assert fast.strict is ("NovaSnapshotHook::Require" in config)


def test_configure_only_beats_skip_even_unparsed():
    decision = settle_by_stream(SKIP, unparsed((KERNEL_CONFIGURE,), {}).action_lines)
    assert (decision.snapshot, decision.rule) == (False, policy.NOTHING)
    assert settle_by_stream(REQUIRE_SKIP, unparsed((LESS_UPGRADE,), {}).action_lines) == Decision(
        False, policy.SKIP, "skipped: NovaSnapshotHook::Skip=yes", True)


def test_unparsed_lines_settle_without_being_parsed(monkeypatch):
    def not_parsed(*args):
        raise AssertionError("the action lines were parsed")

    from nova_snapshot_hook.apt import stream as apt_stream
    monkeypatch.setattr(apt_stream, "_parse_action_lines", not_parsed)
    for lines, config in (((KERNEL_CONFIGURE,) * 50, {}),
                          ((LESS_UPGRADE,) * 50, {"NovaSnapshotHook::Skip": "true"})):
        stream = unparsed(lines, config)
        assert settle_by_stream(stream.config, stream.action_lines) is not None
