"""The repository stands alone: doc/modules.md maps every module, nothing points at material
outside the repository, no file names a package archive's host, and the Debian roots take their
mirror from the host's own apt sources (tests/e2e/debroot mirror)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "nova_snapshot_hook"
MODULE_MAP = REPO / "doc" / "modules.md"
DEBROOT = REPO / "tests" / "e2e" / "debroot"

# Built from pieces, so that this file does not contain what it looks for.
OUTSIDE_POINTERS = (".." + "/shared", "shared" + "/docs")
_DOT = r"\."
ARCHIVE_HOSTS = re.compile(
    r"(?<![a-z0-9-])(?:[a-z0-9-]+\.)*(?:"
    + "|".join(("deb", "security", r"ftp(?:\.[a-z0-9-]+)?", "archive", "snapshot", "httpredir"))
    + r")" + _DOT + "debian" + _DOT + "org"
    + r"|(?<![a-z0-9-])(?:[a-z0-9-]+\.)*(?:archive|security|ports)" + _DOT + "ubuntu" + _DOT + "com"
    + r"|(?<![a-z0-9.-])http" + _DOT + "debian" + _DOT + "net",
    re.IGNORECASE)


def test_the_archive_pattern_finds_what_it_must_and_nothing_else():
    for host in ("deb" + ".debian.org", "DEB" + ".Debian.org", "security" + ".debian.org",
                 "ftp.us" + ".debian.org", "ftp" + ".debian.org", "archive" + ".ubuntu.com",
                 "de.archive" + ".ubuntu.com", "security" + ".ubuntu.com",
                 "ports" + ".ubuntu.com", "cdn-fastly.deb" + ".debian.org"):
        assert ARCHIVE_HOSTS.search(f"URIs: http://{host}/debian"), host
    for text in ("https://metadata.ftp-master.debian.org/changelogs/", "www.debian.org/doc",
                 "nova-snapshot-hook@packages.debian.org", "changelogs.ubuntu.com",
                 "http://127.0.0.1:8080/debian", "notdeb" + ".debian.org.example"):
        assert not ARCHIVE_HOSTS.search(text), text


# -- the module map ----------------------------------------------------------------------------

def package_modules():
    return sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                  if "__pycache__" not in path.parts)


def mapped_modules():
    return set(re.findall(r"`([A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)*\.py)`", MODULE_MAP.read_text()))


def test_the_package_has_modules_and_the_map_names_some():
    assert "apt/policy.py" in package_modules()
    assert {"apt/policy.py", "rules/rotation.py", "rules/retention.py"} <= mapped_modules()


def test_every_module_of_the_package_is_in_the_module_map():
    missing = [module for module in package_modules() if module not in mapped_modules()]
    assert not missing, f"doc/modules.md does not name {missing}"


def test_every_module_the_map_names_exists():
    gone = sorted(module for module in mapped_modules() if not (PACKAGE / module).is_file())
    assert not gone, f"doc/modules.md names modules that do not exist: {gone}"


# -- the tracked files -------------------------------------------------------------------------

def repository_files():
    """The files git tracks, plus the new ones it would track: what a clone gets."""
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    top = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True)
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != REPO:
        pytest.skip(f"{REPO} is not a git checkout (a copy made for the package build)")
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], capture_output=True, check=True).stdout
    names = sorted({name for name in listed.decode().split("\0") if name})
    return [(name, path) for name, path in ((name, REPO / name) for name in names)
            if path.is_file() and not path.is_symlink()]


def text_of(path):
    data = path.read_bytes()
    return None if b"\0" in data else data.decode("utf-8", "replace")


def test_the_checkout_lists_its_files():
    names = [name for name, _ in repository_files()]
    assert "README.md" in names and "tests/unit/test_repository.py" in names


def test_no_file_points_outside_the_repository():
    found = []
    for name, path in repository_files():
        text = text_of(path)
        for number, line in enumerate((text or "").splitlines(), 1):
            if any(pointer in line for pointer in OUTSIDE_POINTERS):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "pointers to material outside the repository:\n" + "\n".join(found)


def test_no_file_names_a_package_archive_host():
    this_file = Path(__file__).resolve()
    found = []
    for name, path in repository_files():
        if path.resolve() == this_file:
            continue
        text = text_of(path)
        for number, line in enumerate((text or "").splitlines(), 1):
            if ARCHIVE_HOSTS.search(line):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, ("archive hosts named (read the mirror from the host's apt sources):\n"
                       + "\n".join(found))


# -- debroot's mirror, from the host's apt sources ---------------------------------------------

MIRROR = "http://mirror.example/debian"
SECURITY = "http://mirror.example/debian-security"


def mirror(apt_dir, which="debian", **env):
    """`debroot mirror` over the apt configuration in apt_dir: (exit status, stdout, stderr)."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("NSH_DEBIAN_")}
    environment.update(DEBROOT_APT_DIR=str(apt_dir), **env)
    result = subprocess.run([str(DEBROOT), "mirror", which], capture_output=True, text=True,
                            env=environment, timeout=30)
    return result.returncode, result.stdout.strip(), result.stderr.strip()


def apt_dir(tmp_path, sources_list=None, **parts):
    """An /etc/apt stand-in: sources.list and sources.list.d/NAME (keyword names, _ for .)."""
    (tmp_path / "sources.list.d").mkdir()
    if sources_list is not None:
        (tmp_path / "sources.list").write_text(sources_list)
    for name, text in parts.items():
        (tmp_path / "sources.list.d" / name.replace("_", ".")).write_text(text)
    return tmp_path


def test_the_mirror_of_a_deb822_file_skips_other_repositories_and_disabled_entries(tmp_path):
    etc = apt_dir(tmp_path, debian_sources=(
        "# a third party first\n"
        "Types: deb\nURIs: https://repo.example/node\nSuites: nodistro\nComponents: main\n\n"
        "Types: deb\nURIs: https://repo.example/docker\nSuites: bookworm\nComponents: stable\n\n"
        "Types: deb\nURIs: http://old.example/debian\nSuites: bookworm\nComponents: main\n"
        "Enabled: no\n\n"
        "Types: deb-src deb\n"
        f"URIs: {MIRROR}\n http://second.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main contrib\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"types: deb\nuris: {SECURITY}\nsuites: bookworm-security\ncomponents: main\n"))
    assert mirror(etc) == (0, MIRROR, "")
    assert mirror(etc, "security") == (0, SECURITY, "")


def test_the_mirror_of_one_line_sources_with_options_and_comments(tmp_path):
    etc = apt_dir(tmp_path, sources_list=(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://source.example/debian bookworm main\n"
        f"deb [ arch=amd64 signed-by=/usr/share/keyrings/k.gpg ] {MIRROR} bookworm main  # ours\n"
        f"deb {SECURITY} bookworm-security main\n"))
    assert mirror(etc) == (0, MIRROR, "")
    assert mirror(etc, "security") == (0, SECURITY, "")


def test_sources_list_comes_before_sources_list_d_and_names_are_sorted(tmp_path):
    etc = apt_dir(tmp_path, sources_list="deb http://first.example/debian trixie main\n",
                  b_list="deb http://third.example/debian trixie main\n",
                  a_sources="Types: deb\nURIs: http://second.example/debian\nSuites: sid\n"
                            "Components: main\n")
    assert mirror(etc)[1] == "http://first.example/debian"
    (etc / "sources.list").unlink()
    assert mirror(etc)[1] == "http://second.example/debian"


def test_no_debian_mirror_is_one_clear_line_and_the_variable_overrides(tmp_path):
    etc = apt_dir(tmp_path, other_list="deb https://repo.example/sdk cloud-sdk-bookworm main\n")
    status, out, err = mirror(etc)
    assert status != 0 and out == ""
    assert len(err.splitlines()) == 1 and "NSH_DEBIAN_MIRROR" in err and str(etc) in err
    assert mirror(etc, "security") == (0, "", "")       # no security suite: the root gets none
    assert mirror(etc, NSH_DEBIAN_MIRROR=MIRROR) == (0, MIRROR, "")
    assert mirror(etc, "security", NSH_DEBIAN_SECURITY_MIRROR=SECURITY) == (0, SECURITY, "")
