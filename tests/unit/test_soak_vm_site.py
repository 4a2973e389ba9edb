"""The soak's VM-like site directory (tests/soak/vm_site.py): the modules of the packages apt
would install with ours, and nothing else of this host's (the local cloud's osprofiler above
all, which keystoneauth1 and novaclient import when it is there)."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "soak"))

import vm_site  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTROL = os.path.join(REPO, "debian", "control")
STATUS = """\
Package: tool
Status: install ok installed
Depends: liba (>= 1), virtual-b | missing-c, ${misc:Depends}
Recommends: lib-rec

Package: liba
Status: install ok installed
Pre-Depends: libpre
Depends: python3:any
Recommends: not-installed

Package: libpre
Status: install ok installed

Package: python3
Status: install ok installed

Package: provider-b
Status: install ok installed
Provides: virtual-b

Package: lib-rec
Status: install ok installed

Package: python3-removed
Status: deinstall ok config-files

Package: unrelated
Status: install ok installed
"""


@pytest.fixture
def status(tmp_path):
    path = tmp_path / "status"
    path.write_text(STATUS)
    return vm_site.installed_packages(str(path))


def test_the_closure_follows_every_relation_apt_installs_by_default(status):
    installed, providers = status
    found = vm_site.closure("liba (>= 1), virtual-b | missing-c, lib-rec", installed, providers)
    assert found == {"liba", "libpre", "python3", "provider-b", "lib-rec"}


def test_a_missing_python_relation_of_ours_is_an_error_and_others_are_not(status):
    installed, providers = status
    assert "not-installed" not in vm_site.closure("liba", installed, providers)
    assert vm_site.closure("liba, ucf", installed, providers) == {"liba", "libpre", "python3"}
    with pytest.raises(RuntimeError, match="python3-removed is not installed"):
        vm_site.closure("liba, python3-removed", installed, providers)


def test_the_relations_are_those_of_debian_control_without_substitutions():
    relations = vm_site.binary_relations(CONTROL, "nova-snapshot-hook")
    names = {name.split()[0] for name in relations.split(", ")}
    assert {"python3-novaclient", "python3-keystoneauth1", "python3-apt"} <= names
    assert "$" not in relations and ",," not in relations.replace(" ", "")


def test_the_program_runs_with_its_own_dependencies_only(tmp_path):
    """Its cloud modules import from the site directory alone, without osprofiler (which this
    host has for the local cloud, and a VM does not)."""
    site = vm_site.build(str(tmp_path / "site"), CONTROL)
    assert "osprofiler" not in os.listdir(site) and "novaclient" in os.listdir(site)
    probe = ("import site, sys; site.addsitedir(sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
             "import nova_snapshot_hook.cloud.client, nova_snapshot_hook.cloud.session; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'osprofiler', 'eventlet'}), "
             "[p for p in sys.path if p.endswith('dist-packages')])")
    out = subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", probe, site, REPO],
                         check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[] []"
