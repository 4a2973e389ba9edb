"""Turn apt's action lines into the set of package changes a snapshot precedes.

A package usually has two lines, its unpack (or remove) line and later its **CONFIGURE** line;
both carry the same versions, so the pair is one change. What kind of change it is follows from
the versions and apt's direction field alone, so no version comparison (apt_pkg) is needed.

Names: apt writes the bare package name; version 3 adds the architecture. A change is keyed by
(name, architecture), and its ``display_name`` carries ``:arch`` only where the bare name would be
ambiguous or misleading: when the same name changes in more than one architecture in this run
(``libc6:amd64`` and ``libc6:i386``), or when the architecture is foreign to APT::Architecture
(``libc6:i386`` alone). ``all`` never shows. Version 2 has no architectures, so there a
multiarch pair is one change.

Imports nothing: on the hook's fast path (doc/hook-speed.md).
"""

from .stream import CONFIGURE, ERROR, PausedCycleCollection, Record

INSTALL, UPGRADE, DOWNGRADE, REINSTALL, REMOVAL = (
    "install", "upgrade", "downgrade", "reinstall", "remove")
KINDS = (UPGRADE, DOWNGRADE, INSTALL, REINSTALL, REMOVAL)  # also the order of the listing


class Change(Record):
    __slots__ = ()
    _fields = ("kind", "name", "arch", "old_version", "new_version", "display_name")

    def describe(self, old_versions=True):
        """``upgrade openssl 3.0.11-1~deb12u1 -> 3.0.11-1~deb12u2``; with ``old_versions``
        false an upgrade or downgrade names only the version it leads to."""
        if self.kind == REMOVAL:
            return f"remove {self.display_name} {self.old_version}"
        if self.kind in (UPGRADE, DOWNGRADE) and old_versions:
            return f"{self.kind} {self.display_name} {self.old_version} -> {self.new_version}"
        return f"{self.kind} {self.display_name} {self.new_version}"

    def item(self):
        """The compact form used in listings: ``openssl 3.0.11-1~deb12u1->3.0.11-1~deb12u2``."""
        if self.kind in (UPGRADE, DOWNGRADE):
            return f"{self.display_name} {self.old_version}->{self.new_version}"
        version = self.old_version if self.kind == REMOVAL else self.new_version
        return f"{self.display_name} {version}"


class ChangeSet:
    """The real changes of one apt run, in dpkg's order, plus what was not a change."""

    __slots__ = ("changes", "configure_only", "errors")

    def __init__(self, changes=(), configure_only=(), errors=()):
        self.changes = tuple(changes)
        self.configure_only = tuple(configure_only)  # display names: configured, not unpacked
        self.errors = tuple(errors)  # display names apt wrote **ERROR** for (no .deb path)

    @property
    def is_empty(self):
        """True for an empty action list and for a configure-only run: nothing changes."""
        return not self.changes

    def __len__(self):
        return len(self.changes)

    def __iter__(self):
        return iter(self.changes)

    def of_kind(self, kind):
        return tuple(c for c in self.changes if c.kind == kind)

    def summary(self, first=None, old_versions=True):
        """One line: ``upgrade openssl 3.0.11-1~deb12u1 -> 3.0.11-1~deb12u2 and 3 more``.
        ``first`` picks the change to name (e.g. the important one); default: dpkg's first."""
        if not self.changes:
            if self.configure_only:
                names = self.configure_only
                more = f" and {len(names) - 3} more" if len(names) > 3 else ""
                return "configure " + ", ".join(names[:3]) + more
            return "no package changes"
        lead = first if first is not None else self.changes[0]
        text = lead.describe(old_versions)
        more = len(self.changes) - 1
        return f"{text} and {more} more" if more > 0 else text

    def listing(self):
        """Every change on one line, grouped by kind:
        ``upgrade a 1->2, b 1->2; install c 1; remove d 3``."""
        return "; ".join(self.listing_chunks(limit=None))

    def listing_chunks(self, limit):
        """The listing cut at change boundaries into pieces of at most ``limit`` characters
        (one image property each: naming.MAX_PROPERTY_VALUE; None, whole). Each piece starts
        with its kind, so each reads alone."""
        chunks = []
        for kind in KINDS:
            items = [c.item() for c in self.changes if c.kind == kind]
            if not items:
                continue
            if limit is None:
                chunks.append(f"{kind} " + ", ".join(items))
                continue
            current = ""
            for item in items:
                candidate = f"{current}, {item}" if current else f"{kind} {item}"
                if current and len(candidate) > limit:
                    chunks.append(current)
                    candidate = f"{kind} {item}"
                current = candidate[:limit]
            chunks.append(current)
        return chunks

    def expected_versions(self):
        """What dpkg should leave behind: {"name:arch": new version, or "-" once removed}
        (apt-post-invoke compares it with what dpkg reports)."""
        return {(f"{c.name}:{c.arch}" if c.arch else c.name): c.new_version or "-"
                for c in self.changes}

    def __repr__(self):
        return f"ChangeSet({self.listing()!r}, configure_only={self.configure_only!r})"


_KIND = {"<": UPGRADE, ">": DOWNGRADE, "=": REINSTALL}


def classify(old_version, direction, new_version):
    """The kind of change an action line describes, from its versions and direction."""
    if new_version is None:
        return REMOVAL
    if old_version is None:
        return INSTALL
    return _KIND[direction]


def build_changes(actions, native_arch=None):
    """The ChangeSet of apt's parsed action lines (``ActionLines.parse()``). ``native_arch`` is
    APT::Architecture from the dump; it only decides where a name shows its architecture."""
    with PausedCycleCollection():
        return _build(actions, native_arch)


def _build(actions, native_arch):
    found = {}  # (name, arch) -> (kind, old version, new version); dicts keep dpkg's order
    configured = {}
    errors = {}
    for action in actions:
        # Unpacked by position: a Record is a tuple, and this loop runs per action line.
        name, old, old_arch, _, direction, new, new_arch, _, what, _ = action
        key = (name, new_arch or old_arch)
        if what == CONFIGURE:
            if key not in found:
                configured[key] = action
            continue
        if configured:
            configured.pop(key, None)
        if what == ERROR:
            errors[key] = True
        # A second line for the same package (removed, then unpacked again) carries the same
        # versions: apt prints the cache's current and target versions on every line.
        if key not in found:
            found[key] = (classify(old, direction, new), old, new)

    names = _display_names(list(found) + list(configured), native_arch)
    # tuple.__new__ skips Record.__new__'s argument checks: the values are complete.
    changes = [tuple.__new__(Change, (kind, key[0], key[1], old, new, names[key]))
               for key, (kind, old, new) in found.items()]
    return ChangeSet(changes, [names[k] for k in configured], [names[k] for k in errors])


def _display_names(keys, native_arch):
    arches = {}
    for name, arch in keys:
        arches.setdefault(name, set()).add(arch)
    shown = {}
    for name, arch in keys:
        foreign = native_arch is not None and arch not in (None, "all", native_arch)
        qualify = arch is not None and (foreign or len(arches[name]) > 1)
        shown[(name, arch)] = f"{name}:{arch}" if qualify else name
    return shown
