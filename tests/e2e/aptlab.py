"""Throwaway Debian roots with the built .deb, small local packages, and real apt runs in them.

Everything goes through tests/e2e/debroot, which never touches the host's apt or dpkg.
"""

import glob
import os
import subprocess

import pytest

from cloud_fixtures import STATE, read_state, worker_server, worker_server_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEBROOT = os.path.join(HERE, "debroot")
SUITES = ("bookworm", "trixie")
CONF = "/etc/nova-snapshot-hook"
REPO_IN_ROOT = "/srv/nsh-test-repo"


def required():
    return os.environ.get("NSH_REQUIRE_CLOUD") == "1"


def missing(why):
    (pytest.fail if required() else pytest.skip)(why)


def built_deb():
    deb = os.environ.get("NSH_DEB") or next(iter(sorted(glob.glob(
        os.path.join(REPO, "build", "nova-snapshot-hook_*_all.deb")))), "")
    if not os.path.exists(deb):
        missing("no built .deb: run make deb (make check does)")
    return deb


def debroot(*args, check=True):
    result = subprocess.run([DEBROOT, *args], capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"debroot {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


class Root:
    def __init__(self, suite, name):
        self.suite = suite
        self.path = os.path.join(REPO, "build", "roots", f"{name}-{suite}")

    def create(self, deb):
        debroot("destroy", self.path)
        debroot("create", self.suite, self.path)
        debroot("install", self.path, deb)
        return self

    def destroy(self):
        if not os.environ.get("NSH_KEEP_ROOTS"):      # set it to look inside after a failure
            debroot("destroy", self.path)

    def file(self, path):
        return os.path.join(self.path, path.lstrip("/"))

    def write(self, path, text, mode=None):
        target = self.file(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
        if mode is not None:
            os.chmod(target, mode)

    def run(self, *command):
        return debroot("run", self.path, *command, check=False)

    def apt(self, *args):
        """A real apt-get run inside the root, answering yes, with the hook's output in it."""
        return self.run("apt-get", "-y", "-o", "Dpkg::Use-Pty=0", *args)

    def configure(self, credentials=None, server=None, apt="", snapshot=""):
        """Credentials (the conffile keeps its 0600) and settings that name the test server."""
        with open(self.file(CONF + "/credentials"), "w", encoding="utf-8") as handle:
            handle.write(credentials if credentials is not None
                         else read_state("appcred-openrc") + "\n")
        self.write(CONF + "/nova-snapshot-hook.conf",
                   f"[server]\nid = {server or worker_server()}\nmetadata_url =\n"
                   f"[snapshot]\npoll_interval = 0.3\n{snapshot}"
                   f"[apt]\nmin_interval = 0\nwait = 60\n{apt}")

    def installed_version(self, package):
        result = self.run("dpkg-query", "-W", "-f=${db:Status-Abbrev}${Version}", package)
        text = result.stdout.strip()
        return text[3:].strip() if text.startswith("ii") else None


def cloud_is_up():
    if not os.path.exists(os.path.join(STATE, worker_server_file())):
        missing("the local cloud is not up (make check starts it)")


def build_test_package(directory, name, version, depends="", postinst_exit=0):
    """A tiny arch-all .deb made with dpkg-deb; a non-zero postinst_exit makes it fail to install."""
    tree = os.path.join(directory, f"{name}_{version}")
    os.makedirs(os.path.join(tree, "DEBIAN"), exist_ok=True)
    os.makedirs(os.path.join(tree, "usr", "share", "doc", name), exist_ok=True)
    with open(os.path.join(tree, "usr", "share", "doc", name, "README"), "w") as handle:
        handle.write(f"{name} {version}: a package of nova-snapshot-hook's tests\n")
    control = (f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
               f"Maintainer: tests <tests@example.org>\nSection: misc\nPriority: optional\n"
               f"{'Depends: ' + depends + chr(10) if depends else ''}"
               f"Description: test package {name}\n for nova-snapshot-hook's end-to-end tests\n")
    with open(os.path.join(tree, "DEBIAN", "control"), "w") as handle:
        handle.write(control)
    if postinst_exit:
        postinst = os.path.join(tree, "DEBIAN", "postinst")
        with open(postinst, "w") as handle:
            handle.write(f"#!/bin/sh\nexit {postinst_exit}\n")
        os.chmod(postinst, 0o755)
    deb = os.path.join(directory, f"{name}_{version}_all.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb], check=True,
                   capture_output=True)
    return deb


def publish(root, debs):
    """Put the packages in a flat local repository inside the root and let apt see only it."""
    target = root.file(REPO_IN_ROOT)
    os.makedirs(target, exist_ok=True)
    for deb in debs:
        subprocess.run(["cp", deb, target], check=True)
    packages = subprocess.run(["dpkg-scanpackages", "-m", "."], cwd=target, check=True,
                              capture_output=True, text=True).stdout
    with open(os.path.join(target, "Packages"), "w") as handle:
        handle.write(packages)
    root.write("/etc/apt/sources.list.d/nsh-test.list", f"deb [trusted=yes] file:{REPO_IN_ROOT} ./\n")
    result = root.apt("update", "-o", "Dir::Etc::sourcelist=/etc/apt/sources.list.d/nsh-test.list",
                      "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0")
    assert result.returncode == 0, result.stderr
