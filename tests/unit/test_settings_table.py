"""config.TABLE is the one list of the settings: the shipped settings file, the man page's list,
the debconf templates and the shell checks of the maintainer scripts agree with it."""

import os
import re
import subprocess

import pytest

from nova_snapshot_hook import config
from nova_snapshot_hook.config import TABLE, Settings, parse_settings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(REPO, "debian", "share", "nova-snapshot-hook.conf")
MAN_PAGE = os.path.join(REPO, "doc", "nova-snapshot-hook.8")
TEMPLATES = os.path.join(REPO, "debian", "templates")
SHELL_LIB = os.path.join(REPO, "debian", "share", "settings-lib.sh")
CONFIG_SCRIPT = os.path.join(REPO, "debian", "config")
ASKED = [key for key in TABLE if key.question]

# What the maintainer scripts check a debconf answer with, by the key's parser. A free text
# (the server id) and the operations (a multiselect of fixed choices) need no check.
SHELL_CHECKS = {
    config._count: 'is_count "$1" 0',
    config._rotation: 'is_count "$1" 1',
    config._positive_seconds: 'is_seconds "$1"',
    config._boolean: 'boolean "$1"',
}
UNCHECKED = {config._text, config._operations}
# Values both the Python parser and the shell check accept, and values both refuse.
SAMPLES = {
    config._count: (["0", "7", "12", "1000"], ["-1", "x", "1.5", "", "7 days", "1001",
                                               "99999999999999999999"]),
    config._rotation: (["1", "5", "1000"], ["0", "-1", "x", "", "1001"]),
    config._positive_seconds: (["300", "2.5", ".5", "0.1", "86400", "86400.0", "0086399.5"],
                               ["0", "0.0", "-1", "abc", "", "1.2.3", "5s", "86401",
                                "86400.5", "1e10", "inf", "nan", "100000"]),
    config._boolean: (["yes", "No", "TRUE", "on", "0", "off"], ["maybe", "", "2", "y"]),
}
# The debconf select whose choices are not the key's own words.
ANSWER_TO_VALUE = {"nova-snapshot-hook/failure-policy": {"fail-open": "no", "strict": "yes"}}
QUESTIONS_WITHOUT_KEY = {"nova-snapshot-hook/schedules", "nova-snapshot-hook/invalid-count",
                         "nova-snapshot-hook/invalid-seconds"}


def as_text(value):
    """A default as the settings file writes it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return " ".join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def shipped_keys():
    """{(section, key): (value, commented)} of the shipped file, commented-out keys included."""
    found, section = {}, None
    for line in open(SHIPPED).read().splitlines():
        header = re.match(r"\[(\w+)\]$", line)
        if header:
            section = header.group(1)
            continue
        match = re.match(r"(# )?([a-z_]+) =(?: (.*))?$", line)
        if match and section:
            assert (section, match.group(2)) not in found, f"[{section}] {match.group(2)} twice"
            found[(section, match.group(2))] = (match.group(3) or "", bool(match.group(1)))
    return found


def man_page_keys():
    """{(section, key): value} of the man page's settings list (".B [section]", ".B key = value")."""
    text = open(MAN_PAGE).read()
    start = text.index(".RS\n", text.index("The keys, each shown as"))
    end = text.index("\n.TP\n.I ", start)
    found, section = {}, None
    for line in text[start:end].splitlines():
        header = re.match(r"\.B \[(\w+)\]$", line)
        if header:
            section = header.group(1)
            continue
        match = re.match(r"\.B ([a-z_]+) =(?: (.*))?$", line)
        if match:
            value = re.sub(r"\\[%:&]", "", match.group(2) or "").replace("\\-", "-")
            assert "\\" not in value, f"an escape this test does not know: {line}"
            found[(section, match.group(1))] = value
    return found


def templates():
    """{question: {field: value}} of debian/templates (first lines of fields only)."""
    found = {}
    for block in open(TEMPLATES).read().split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): ?(.*)$", block, re.MULTILINE))
        found[fields["Template"]] = fields
    return found


def shell(check, value, script=SHELL_LIB):
    return subprocess.run(["/bin/sh", "-ec", f'. "$0"; {check}', script, value],
                          capture_output=True, text=True).returncode


def test_each_key_is_once_in_the_table_with_a_default_its_parser_reads_back():
    assert len({(key.section, key.name) for key in TABLE}) == len(TABLE)
    assert len({key.attribute for key in TABLE}) == len(TABLE)
    for key in TABLE:
        assert key.parse(as_text(key.default)) == key.default, key


def test_the_shipped_file_shows_every_key_with_its_default():
    shipped = shipped_keys()
    assert set(shipped) == set(config.KEYS)
    for key in TABLE:
        value, commented = shipped[(key.section, key.name)]
        assert key.parse(value) == key.default, key
        # debconf's keys are written in place, so they are there, not commented out
        assert commented == (key.question is None), key
    assert parse_settings(open(SHIPPED).read(), "s.conf") == Settings(path="s.conf")


def test_the_man_page_lists_every_key_with_its_default():
    listed = man_page_keys()
    assert set(listed) == set(config.KEYS)
    for key in TABLE:
        assert key.parse(listed[(key.section, key.name)]) == key.default, key


def test_each_debconf_question_exists_with_the_default_of_its_key():
    questions = templates()
    for key in ASKED:
        assert key.question in questions, key
        answer = questions[key.question]["Default"]
        value = ANSWER_TO_VALUE.get(key.question, {}).get(answer, answer)
        assert key.parse(value) == key.default, key
    assert set(questions) == {key.question for key in ASKED} | QUESTIONS_WITHOUT_KEY
    assert questions["nova-snapshot-hook/failure-policy"]["Choices-C"].split(", ") == \
        list(ANSWER_TO_VALUE["nova-snapshot-hook/failure-policy"])


def test_the_choices_of_debconf_are_the_words_the_parsers_know():
    questions = templates()
    assert tuple(questions["nova-snapshot-hook/apt-operations"]["Choices-C"].split(", ")) == \
        config.OPERATION_WORDS
    tiers = [key for key in ASKED if key.section == "schedule"]
    schedules = questions["nova-snapshot-hook/schedules"]
    assert schedules["Choices-C"].split(", ") == [key.name for key in tiers]
    assert schedules["Default"].split(", ") == [key.name for key in tiers if key.default > 0]
    script = open(CONFIG_SCRIPT).read()
    assert f'TIERS="{" ".join(key.name for key in tiers)}"' in script
    assert f'choices "{" ".join(config.OPERATION_WORDS)}"' in script


def test_each_debconf_key_has_a_shell_check_or_needs_none():
    for key in ASKED:
        assert key.parse in SHELL_CHECKS or key.parse in UNCHECKED, f"{key}: no shell check"


@pytest.mark.parametrize("key", [key for key in ASKED if key.parse in SHELL_CHECKS],
                         ids=lambda key: f"{key.section}.{key.name}")
def test_the_shell_check_of_a_debconf_key_takes_the_default_and_refuses_bad_values(key):
    check = SHELL_CHECKS[key.parse]
    assert shell(check, as_text(key.default)) == 0, key
    good, bad = SAMPLES[key.parse]
    for value in good:
        key.parse(value)
        assert shell(check, value) == 0, (key, value)
    for value in bad:
        with pytest.raises(ValueError):
            key.parse(value)
        assert shell(check, value) != 0, (key, value)


def test_the_config_script_carries_the_shell_lib_unchanged():
    """debian/config may run before the package is unpacked, so it has a copy of the lib."""
    script = open(CONFIG_SCRIPT).read()
    begin, end = "# BEGIN settings-lib.sh\n", "# END settings-lib.sh\n"
    copy = script[script.index(begin) + len(begin):script.index(end)]
    assert copy == open(SHELL_LIB).read()


def test_the_boolean_check_prints_what_debconf_stores():
    result = subprocess.run(["/bin/sh", "-ec", '. "$0"; boolean Yes; boolean off', SHELL_LIB],
                            capture_output=True, text=True)
    assert result.stdout.split() == ["true", "false"]


def test_the_postinst_writes_only_keys_of_the_table():
    """The settings file refuses unknown sections and keys: a debconf answer written under one
    would stop every run after the next dpkg-reconfigure."""
    script = open(os.path.join(REPO, "debian", "postinst")).read()
    written = re.findall(r"^\s*(?:if .*then )?keep (\w+) (\w+) ", script, re.M)
    written += [("schedule", tier) for tier in re.findall(r"^\s*keep_tier (\w+) ", script, re.M)]
    assert set(written) <= set(config.KEYS)
    assert set(written) == {(key.section, key.name) for key in ASKED}
