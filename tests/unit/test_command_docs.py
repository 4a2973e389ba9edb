"""Man pages and bash completion agree with the parser: every option, every help text."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nova_snapshot_hook.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
COMPLETION = REPO / "debian" / "nova-snapshot-hook.bash-completion"
PAGES = ("list", "show", "restore", "pin", "unpin", "prune", "status", "check", "access-rules")
COMPLETED = ("snapshot", "scheduled") + PAGES


def commands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return parser, action


def options_of(subparser):
    return {option for action in subparser._actions for option in action.option_strings}


def complete(*words):
    """COMPREPLY of our completion function for the command line `words` (the last one is
    being completed), with bash-completion's helpers stubbed."""
    line = " ".join(f"'{w}'" for w in words)
    script = (
        '_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; '
        'cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; }\n'
        "_filedir() { COMPREPLY=(FILES); }\n"
        f"source {COMPLETION}\n"
        f"COMP_WORDS=(nova-snapshot-hook {line}); COMP_CWORD={len(words)}\n"
        "_nova_snapshot_hook\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n')
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                            text=True, check=True)
    return set(result.stdout.split())


def test_completion_offers_every_command_but_not_the_ones_apt_runs():
    _, action = commands()
    assert complete("") == set(action.choices)
    assert not complete("apt")


def nested(subparser):
    """(words, subparser) for a command and each of its actions (fleet snapshot, ...)."""
    actions = [a for a in subparser._actions if a.__class__.__name__ == "_SubParsersAction"]
    if not actions:
        return [((), subparser)]
    return [((name,) + words, leaf) for name, child in actions[0].choices.items()
            for words, leaf in nested(child)]


def test_completion_offers_exactly_the_options_of_every_command_and_action():
    _, action = commands()
    for name, subparser in action.choices.items():
        for words, leaf in nested(subparser):
            assert complete(name, *words, "-") == options_of(leaf), (name, words)
            if words:
                assert complete(name, "") == {w[0] for w, _ in nested(subparser)}


def test_completion_offers_the_global_options():
    parser, _ = commands()
    parser_options = {o for a in parser._actions if not a.__class__.__name__.startswith("_Sub")
                      for o in a.option_strings}
    assert complete("-") == parser_options


@pytest.mark.parametrize("name", COMPLETED)
def test_completion_offers_exactly_each_commands_options(name):
    _, action = commands()
    assert complete(name, "-") == options_of(action.choices[name])
    assert complete("-q", "-c", "x.conf", name, "-") == options_of(action.choices[name])


def test_completion_knows_the_choices_and_files_of_options():
    assert complete("snapshot", "--wait", "") == {"captured", "active", "none"}
    assert complete("snapshot", "--method", "") == {"auto", "backup", "image"}
    assert complete("scheduled", "--tier", "") == {"daily", "weekly", "monthly", "yearly"}
    assert complete("status", "--prometheus", "") == {"FILES"}
    assert complete("--config", "") == {"FILES"}
    assert complete("restore", "--new", "") == set()
    assert "weekly" in complete("snapshot", "") and complete("snapshot", "daily", "") == set()


def page(name):
    """A page's text; a page that is only `.so man8/OTHER.8` (unpin) is OTHER's, as man shows it."""
    text = (REPO / "doc" / f"nova-snapshot-hook-{name}.8").read_text()
    target = re.fullmatch(r"\.so man8/(nova-snapshot-hook-[a-z]+\.8)\n", text)
    return (REPO / "doc" / target.group(1)).read_text() if target else text


def section(text, title):
    match = re.search(rf"^\.SH {title}\n(.*?)(?=^\.SH |\Z)", text, re.S | re.M)
    return match.group(1) if match else ""


@pytest.mark.parametrize("name", PAGES)
def test_each_man_page_documents_exactly_the_commands_options(name):
    _, action = commands()
    wanted = options_of(action.choices[name]) - {"-h", "--help"}
    text = page(name)
    documented = set(re.findall(r"^\.B[I]? (\\-\\-[a-z\\-]+)", section(text, "OPTIONS"), re.M))
    assert {o.replace("\\-", "-") for o in documented} == wanted
    in_synopsis = set(re.findall(r"(\\-\\-[a-z\\-]+)", section(text, "SYNOPSIS")))
    assert {o.replace("\\-", "-") for o in in_synopsis} == wanted


def rendered(name):
    groff = shutil.which("groff")
    if not groff:
        pytest.skip("groff is not installed")
    text = subprocess.run([groff, "-man", "-Tascii", "-rLL=2000n", "-rHY=0", "-P-cbou"],
                          input=page(name), capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


@pytest.mark.parametrize("name", PAGES)
def test_each_man_page_says_what_help_says(name):
    _, action = commands()
    parser = action.choices[name]
    text = rendered(name)
    assert " ".join(parser.description.split()) in text
    summary = next(a.help for a in action._choices_actions if a.dest == name)
    assert f"nova-snapshot-hook-{name} - {summary}" in text
    for option in parser._actions:
        if option.help and "--help" not in option.option_strings:
            assert " ".join(option.help.split()) in text, option.option_strings


def test_the_main_page_names_every_command_and_its_page():
    _, action = commands()
    text = (REPO / "doc" / "nova-snapshot-hook.8").read_text()
    for name in action.choices:
        assert re.search(rf'^\.(B|BR|SS) "?{name}\b', section(text, "COMMANDS"), re.M), name
    for name in PAGES + ("fleet",):
        escaped = name.replace("-", "\\-")
        assert f".BR nova\\-snapshot\\-hook\\-{escaped} (8)" in section(text, "SEE ALSO"), name


def test_every_command_page_is_installed():
    listed = (REPO / "debian" / "manpages").read_text().split()
    for name in PAGES:
        assert f"doc/nova-snapshot-hook-{name}.8" in listed
