"""rules/ is pure (doc/modules.md): no file, clock, host, process, thread or network. The edges
read those and hand the rules their values. A scan of the source, lazy imports included: only
the pure standard library modules below and the package's rules/, errors and text may be
imported, and nothing that reads the outside world may be called."""

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "nova_snapshot_hook" / "rules"
ROOT = "nova_snapshot_hook"

PURE_STDLIB = ("collections", "dataclasses", "datetime", "fnmatch", "functools", "hashlib",
               "itertools", "json", "math", "posixpath", "re", "urllib.parse")
OWN = (f"{ROOT}.rules", f"{ROOT}.errors", f"{ROOT}.text", f"{ROOT}.__version__")
# Called by name: the builtins that read or write the outside world.
IMPURE_BUILTINS = ("open", "print", "input", "breakpoint", "exec", "eval", "compile",
                   "__import__", "exit", "quit")
# Called through a module of these names (time.time(), os.listdir(), ...): refused even where
# the import was missed.
IMPURE_MODULES = ("os", "sys", "io", "time", "socket", "subprocess", "threading", "concurrent",
                  "multiprocessing", "asyncio", "signal", "select", "selectors", "shutil",
                  "pathlib", "tempfile", "glob", "random", "secrets", "uuid", "logging",
                  "syslog", "http", "urllib.request", "requests")
# The clock, through datetime: datetime.datetime.now(), datetime.date.today().
CLOCK_READS = ("now", "today", "utcnow")


def _within(name, allowed):
    return any(name == entry or name.startswith(entry + ".") for entry in allowed)


def _dotted(node):
    """`a.b.c` for a Name or an Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def impurities(source, module=f"{ROOT}.rules.sample", filename="<sample>"):
    """What makes the module's source impure, one line per finding; [] for a pure module."""
    package = module.rpartition(".")[0] if not filename.endswith("__init__.py") else module
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            names = []
        found += [f"line {node.lineno}: imports {name}" for name in names
                  if not _within(name, PURE_STDLIB + OWN)]
        if isinstance(node, ast.Call):
            called = _dotted(node.func)
            if called in IMPURE_BUILTINS or called and _within(called, IMPURE_MODULES):
                found.append(f"line {node.lineno}: calls {called}()")
            elif isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_READS:
                found.append(f"line {node.lineno}: reads the clock ({called or node.func.attr}())")
    return found


def rules_modules():
    return sorted(RULES.glob("*.py"))


def test_there_are_rules_to_scan():
    assert {"naming.py", "schedule.py", "fleet_plan.py", "freshness.py"} <= {
        path.name for path in rules_modules()}


@pytest.mark.parametrize("path", rules_modules(), ids=lambda path: path.name)
def test_the_rules_do_no_io(path):
    module = f"{ROOT}.rules" + ("" if path.name == "__init__.py" else f".{path.stem}")
    assert impurities(path.read_text(), module, str(path)) == []


READS_A_FILE = '''"""A rule that reads its table itself."""

import json


def load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
'''


def test_the_scan_catches_a_module_that_reads_a_file():
    assert impurities(READS_A_FILE) == ["line 7: calls open()"]


@pytest.mark.parametrize("source, finding", [
    ("import os\n", "imports os"),
    ("import os.path\n", "imports os.path"),
    ("from urllib import request\n", "imports urllib.request"),
    ("def f():\n    import socket\n", "imports socket"),                    # lazily, too
    ("from concurrent.futures import ThreadPoolExecutor\n",
     "imports concurrent.futures.ThreadPoolExecutor"),
    ("import threading\n", "imports threading"),
    ("from ..backup import attempts\n", f"imports {ROOT}.backup.attempts"),
    ("from .. import cloud\n", f"imports {ROOT}.cloud"),
    ("def f(time):\n    return time.monotonic()\n", "calls time.monotonic()"),
    ("def f(time):\n    time.sleep(1)\n", "calls time.sleep()"),
    ("import datetime\nNOW = datetime.datetime.now()\n", "reads the clock"),
    ("import datetime\nTODAY = datetime.date.today()\n", "reads the clock"),
    ("def f(os):\n    return os.uname().nodename\n", "calls os.uname()"),
    ("print('x')\n", "calls print()"),
])
def test_the_scan_refuses_each_way_out(source, finding):
    found = impurities(source)
    assert any(finding in line for line in found), found


def test_the_scan_allows_pure_stdlib_and_the_own_pure_modules():
    source = ("import datetime\nimport hashlib\nfrom urllib.parse import urlsplit\n"
              "from . import naming\nfrom .capture import CAPTURED\nfrom .. import __version__\n"
              "from ..errors import ConfigError\nfrom ..text import format_time\n"
              "def f(now):\n    return datetime.datetime.fromtimestamp(now).isoformat()\n")
    assert impurities(source) == []
