"""The fleet man page (doc/nova-snapshot-hook-fleet.8) agrees with `fleet ... --help`: every
option of both actions, every help text, and the page is installed."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nova_snapshot_hook.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "doc" / "nova-snapshot-hook-fleet.8"


def fleet_parsers():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    fleet = commands.choices["fleet"]
    actions = next(a for a in fleet._actions if a.__class__.__name__ == "_SubParsersAction")
    summary = next(a.help for a in commands._choices_actions if a.dest == "fleet")
    return fleet, actions, summary


def options_of(parser):
    return {o for a in parser._actions for o in a.option_strings} - {"-h", "--help"}


def section(text, title):
    match = re.search(rf"^\.SH {title}\n(.*?)(?=^\.SH |\Z)", text, re.S | re.M)
    return match.group(1) if match else ""


def unescape(options):
    return {o.replace("\\-", "-") for o in options}


def test_the_page_documents_exactly_the_options_of_both_actions():
    _, actions, _ = fleet_parsers()
    wanted = options_of(actions.choices["snapshot"]) | options_of(actions.choices["status"])
    text = PAGE.read_text()
    documented = re.findall(r"^\.B[I]? (\\-\\-[a-z\\-]+)", section(text, "OPTIONS"), re.M)
    assert unescape(documented) == wanted
    assert unescape(re.findall(r"(\\-\\-[a-z\\-]+)", section(text, "SYNOPSIS"))) == wanted


def rendered():
    groff = shutil.which("groff")
    if not groff:
        pytest.skip("groff is not installed")
    text = subprocess.run([groff, "-man", "-Tascii", "-rLL=2000n", "-rHY=0", "-P-cbou"],
                          input=PAGE.read_text(), capture_output=True, text=True,
                          check=True).stdout
    return " ".join(text.split())


def test_the_page_says_what_help_says():
    fleet, actions, summary = fleet_parsers()
    text = rendered()
    assert f"nova-snapshot-hook-fleet - {summary}" in text
    assert " ".join(fleet.description.split()) in text
    for name, parser in actions.choices.items():
        assert " ".join(parser.description.split()) in text, name
        for option in parser._actions:
            if option.help and "--help" not in option.option_strings:
                assert " ".join(option.help.split()) in text, (name, option.dest)


def test_the_page_is_installed():
    assert "doc/nova-snapshot-hook-fleet.8" in (REPO / "debian" / "manpages").read_text().split()
