"""For the whole test run: every file the tool writes goes under a temporary
NOVA_SNAPSHOT_HOOK_ROOT (set in os.environ, so every process a test starts inherits it, unless
the run was given one), and the run fails when the host's own /run/nova-snapshot-hook or
/var/lib/nova-snapshot-hook changed meanwhile (tests/host_state.py)."""

import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for directory in (REPO, HERE, os.path.join(HERE, "soak")):
    if directory not in sys.path:
        sys.path.insert(0, directory)

import host_state  # noqa: E402
import runners  # noqa: E402
import vm_site  # noqa: E402
from nova_snapshot_hook import paths  # noqa: E402

_run = {}

# pytest -n 2 --dist loadgroup (make check): each worker has an image-backed server of its own
# (cloud_fixtures.py), but the local cloud has one volume-backed server and one real guest:
# the modules that use them run on one worker, one after another. Every other module of
# tests/integration and tests/e2e stays whole on one worker too (its module-scoped fixtures, a
# Debian root or a proxy, are made once); the unit tests go wherever a worker is free.
SHARED = {
    "volume-backed-and-guest": ("integration/test_real_guest.py",
                                "integration/test_volume_backed_cloud.py",
                                "integration/test_delete_guards_cloud.py",
                                "integration/test_access_rules_cloud.py",
                                "integration/test_cloud_contract.py",
                                "e2e/test_apt_hook_in_root.py"),
}
GROUP_OF = {module: group for group, modules in SHARED.items() for module in modules}


@pytest.hookimpl(tryfirst=True)     # before xdist's own, which reads the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = os.path.relpath(str(item.fspath), HERE)
        if not module.startswith(("integration" + os.sep, "e2e" + os.sep)):
            continue
        item.add_marker(pytest.mark.xdist_group(GROUP_OF.get(module, module)))


def pytest_sessionstart(session):
    if not os.environ.get(paths.ROOT_ENVIRONMENT):
        _run["made"] = os.environ[paths.ROOT_ENVIRONMENT] = tempfile.mkdtemp(prefix="nsh-tests-")
    if runners.SITE not in os.environ:
        # Every run of the program in a child sees only its own dependencies, as on a VM
        # (tests/runners.py says why): faster here, and a dependency debian/control forgets
        # fails the tests as it would fail a VM.
        site = tempfile.mkdtemp(prefix="nsh-site-")
        _run["site"] = os.environ[runners.SITE] = vm_site.build(
            os.path.join(site, "site"), os.path.join(REPO, "debian", "control"))
    _run["before"] = host_state.listing()


def pytest_sessionfinish(session, exitstatus):
    if "before" not in _run:
        return
    changed = host_state.changes(_run.pop("before"), host_state.listing())
    if "site" in _run:
        shutil.rmtree(os.path.dirname(_run.pop("site")), ignore_errors=True)
        del os.environ[runners.SITE]
    if "made" in _run:
        shutil.rmtree(_run.pop("made"), ignore_errors=True)
    if not changed:
        return
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    lines = ["the tests changed the host's own state (tests write only under their temporary "
             "directories: NOVA_SNAPSHOT_HOOK_ROOT, tmp_path):", *(f"  {line}" for line in changed)]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print("\n".join(lines), file=sys.stderr)
        return
    reporter.write_line("")
    reporter.write_sep("!", "host state changed", red=True)
    for line in lines:
        reporter.write_line(line, red=True)


@pytest.fixture
def state_root(tmp_path, monkeypatch):
    """This test's own NOVA_SNAPSHOT_HOOK_ROOT, tmp_path/host, set in os.environ: a
    host_state.StateRoot (`run`, `lib`, `attempts`, `schedule`, `env`)."""
    root = host_state.StateRoot(tmp_path / "host")
    monkeypatch.setenv(paths.ROOT_ENVIRONMENT, str(root.root))
    return root
