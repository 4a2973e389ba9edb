"""apt-post-invoke asks dpkg-query about the package names it kept under /run: a name is never
read as an option, whatever the file holds."""

import shutil

import pytest

from nova_snapshot_hook.apt import post_invoke


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs dpkg-query")
def test_a_name_that_looks_like_an_option_is_a_package_name():
    planted = "--showformat=planted:all ii 9.9\n"
    assert post_invoke.installed([planted]) == {}


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs dpkg-query")
def test_real_names_are_still_found():
    found = post_invoke.installed(["dpkg"])
    assert list(found) and all(name.startswith("dpkg:") for name in found)
