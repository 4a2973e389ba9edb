"""The README is for users (issue 24): short, the test report in doc/testing.md, and every link it
makes holds on an installed system, where it is /usr/share/doc/nova-snapshot-hook/README.md and
the documents it links to are installed beside it (debian/docs, debian/install)."""

import posixpath
import re
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCDIR = PurePosixPath("usr/share/doc/nova-snapshot-hook")
DEVELOPER_ONLY = {"doc/development.md", "doc/modules.md"}
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def links(path):
    """The relative links of a Markdown file, as written (no URL, no anchor of the same page)."""
    return [target for target in LINK.findall(path.read_text()) if "://" not in target]


def user_part():
    """The README up to its Development section, the one part that is for developers."""
    text = README.read_text()
    head, found, _ = text.partition("\n## Development\n")
    assert found, "the README has no Development section"
    return head


def config_lines(name):
    path = REPO / "debian" / name
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.split() for line in lines if line.strip() and not line.startswith("#")]


def installed_docs():
    """The repository file of each path the package installs under /usr/share/doc/PACKAGE/,
    from debian/docs (dh_installdocs: the base name) and debian/install (dh_install: SRC... DEST)."""
    installed = {}
    for words in config_lines("docs"):
        for source in words:
            installed[DOCDIR / PurePosixPath(source).name] = source
    for words in config_lines("install"):
        if len(words) < 2:
            continue
        dest = PurePosixPath(words[-1])
        for pattern in words[:-1]:
            for path in sorted(REPO.glob(pattern)):
                installed[dest / path.name] = str(path.relative_to(REPO))
    return {path: source for path, source in installed.items() if DOCDIR in path.parents}


def test_the_readme_has_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_the_test_report_is_in_doc_testing_not_in_the_readme():
    for word in ("P6", "soak", "minicloud", "fake driver", "TCG"):
        assert not re.search(rf"\b{word}\b", README.read_text(), re.I), word
    assert "doc/testing.md" in links(README)
    assert "make soak" in (REPO / "doc" / "testing.md").read_text()


def test_the_readme_says_first_how_to_get_the_package():
    sections = re.findall(r"^## (.+)$", README.read_text(), re.M)
    assert sections[:2] == ["Get the package", "Configure"], sections
    assert sections[-1] == "Development", sections
    assert "apt install ./build/nova-snapshot-hook_VERSION_all.deb" in user_part()
    assert "make deb" in user_part()


def test_every_relative_link_of_the_readme_is_a_file_of_the_tree():
    missing = [target for target in links(README) if not (REPO / target).is_file()]
    assert not missing


def test_developer_docs_are_linked_from_the_development_section_only():
    in_user_part = set(LINK.findall(user_part()))
    assert not in_user_part & DEVELOPER_ONLY
    assert DEVELOPER_ONLY <= set(links(README))


def test_every_link_of_the_installed_readme_holds():
    installed = installed_docs()
    readme = DOCDIR / "README.md"
    assert installed.get(readme) == "README.md", "the package does not install README.md"
    dead = [target for target in LINK.findall(user_part()) if "://" not in target
            and DOCDIR / target not in installed]
    assert not dead, f"linked by the README, not installed beside it: {dead}"


def test_every_link_of_an_installed_document_holds():
    installed = installed_docs()
    dead = []
    for path, source in installed.items():
        if path.suffix != ".md" or path.name == "README.md":
            continue
        for target in links(REPO / source):
            if PurePosixPath(posixpath.normpath(path.parent / target)) not in installed:
                dead.append(f"{source}: {target}")
    assert not dead, dead


def test_the_linked_documents_stay_uncompressed():
    """dh_compress gzips documents over 4 kB; README.md.gz links to doc/x.md would be dead."""
    rules = (REPO / "debian" / "rules").read_text()
    assert re.search(r"^override_dh_compress:\n\tdh_compress\b.*\s-X\.md\b", rules, re.M)
