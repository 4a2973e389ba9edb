"""The Python modules a VM has after `apt install nova-snapshot-hook`, as a site directory of
symlinks, for the soak's runs of the program.

Why: this host is also the local cloud, whose packages bring modules that a VM never has, and
keystoneauth1 and novaclient import some of them when present (osprofiler, which pulls in
eventlet, oslo.concurrency and pkg_resources: measured, 0.87 s of CPU to import the program's
cloud modules here, 0.27 s with only its own dependencies). The 1,800 or so runs of two years
that take a backup would each pay that, on the two vCPUs the cloud's services need. The
program's runs therefore see the modules of the packages apt would install with ours
(Depends, Pre-Depends and Recommends of debian/control, recursively, as installed here), and
nothing of the cloud's; a dependency that debian/control forgets then fails the soak as it
would fail a VM.
"""

import os
import re
import subprocess

import apt_pkg

DIST_PACKAGES = "/usr/lib/python3/dist-packages/"
FIELDS = ("Pre-Depends", "Depends", "Recommends")       # apt installs Recommends by default
STATUS = "/var/lib/dpkg/status"


def binary_relations(control, package):
    """The relations of `package`'s stanza of debian/control, as one string, substitution
    variables such as ${python3:Depends} left out: they name python3, whose standard library
    every interpreter has."""
    with apt_pkg.TagFile(control) as stanzas:
        for stanza in stanzas:
            if stanza.get("Package") == package:
                text = re.sub(r"\$\{[^}]*\}", "", ", ".join(stanza.get(field, "")
                                                         for field in FIELDS))
                return ", ".join(filter(None, (part.strip() for part in text.split(","))))
    raise ValueError(f"{control}: no stanza for the package {package}")


def installed_packages(status=STATUS):
    """({name: stanza} of the installed packages, {virtual name: [providers]})."""
    installed, providers = {}, {}
    with apt_pkg.TagFile(status) as stanzas:
        for stanza in stanzas:
            if stanza.get("Status", "").endswith(" installed"):
                installed[stanza["Package"]] = stanza
                for group in apt_pkg.parse_depends(stanza.get("Provides", "")):
                    for name, _, _ in group:
                        providers.setdefault(name, []).append(stanza["Package"])
    return installed, providers


def satisfiers(relations, installed, providers):
    """Of each "a | b" group of `relations`: (its names, the installed packages of its first
    installed name, or [] for a group with none)."""
    for group in apt_pkg.parse_depends(relations):
        names = [name.split(":")[0] for name, _, _ in group]        # python3:any
        found = next((([name] if name in installed else providers[name]) for name in names
                      if name in installed or providers.get(name)), [])
        yield names, found


def closure(relations, installed, providers):
    """Every installed package that `relations` (debian/control's) need, through installed
    Pre-Depends, Depends and Recommends. Raises if a Python package of `relations` themselves
    is not installed (make deps installs them); one that brings no module (ucf) may be
    missing on a test machine, and a dependency's unmet Recommends is left out, as apt would
    when it cannot be installed."""
    todo, seen = [], set()
    for names, found in satisfiers(relations, installed, providers):
        if not found and any(name.startswith("python3") for name in names):
            raise RuntimeError(f"{' | '.join(names)} is not installed (make deps)")
        todo.extend(found)
    while todo:
        package = todo.pop()
        if package not in seen:
            seen.add(package)
            stanza = installed[package]
            needs = ", ".join(filter(None, (stanza.get(field) for field in FIELDS)))
            for _, found in satisfiers(needs, installed, providers):
                todo.extend(found)
    return seen


def build(directory, control, package="nova-snapshot-hook"):
    """Makes `directory` a site directory (for site.addsitedir) holding, as symlinks, the
    top-level entries of dist-packages that the closure of `package`'s relations installs;
    returns `directory`."""
    apt_pkg.init_system()
    installed, providers = installed_packages()
    packages = closure(binary_relations(control, package), installed, providers)
    listing = subprocess.run(["dpkg-query", "-L", *sorted(packages)], check=True,
                             capture_output=True, text=True).stdout
    entries = {line[len(DIST_PACKAGES):].split("/")[0] for line in listing.splitlines()
               if line.startswith(DIST_PACKAGES) and len(line) > len(DIST_PACKAGES)}
    os.makedirs(directory, exist_ok=True)
    for entry in sorted(entries):
        if not entry.startswith("."):               # a package's build leftover, not a module
            os.symlink(DIST_PACKAGES + entry, os.path.join(directory, entry))
    return directory
