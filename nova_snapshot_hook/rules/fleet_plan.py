"""Fleet mode's rules: which servers, how many at once, each server's outcome, and the freshness
of each server's series. No I/O.

A server here is Nova's JSON object (`GET /servers/detail`, microversion >= 2.26 so it carries
`tags`); an image is Glance's. commands/fleet.py does the requests and runs one
backup.snapshotter.Snapshotter per server in its bounded pool of workers; this module selects
the servers and turns outcomes and images into rows, JSON and an exit status (the tables are in
views.py). `fleet status` judges with freshness.py's model, the one `status` uses.
"""

from . import inventory
from .freshness import SeriesFreshness, backups_by_series
from .outcome import FAILED

MAX_CONCURRENCY = 64
OK_STATES = ("requested", "captured", "active")


# -- selection --------------------------------------------------------------------------------
class Selection:
    """--all, or every --tag and every --metadata KEY[=VALUE] at once (AND)."""

    __slots__ = ("everything", "tags", "metadata")

    def __init__(self, everything=False, tags=(), metadata=()):
        self.everything, self.tags, self.metadata = everything, tuple(tags), tuple(metadata)

    def problem(self):
        """What is wrong with the options, or None."""
        if self.everything and (self.tags or self.metadata):
            return "--all selects every server: give it alone, or --tag/--metadata without it"
        if not (self.everything or self.tags or self.metadata):
            return "say which servers: --all, --tag TAG or --metadata KEY[=VALUE]"
        return None

    def matches(self, server):
        if self.everything:
            return True
        tags = set(server.get("tags") or ())
        if not set(self.tags) <= tags:
            return False
        metadata = server.get("metadata") or {}
        return all(key in metadata and (value is None or metadata[key] == value)
                   for key, value in self.metadata)

    def describe(self):
        if self.everything:
            return "every server of the project"
        parts = [f"tag {tag}" for tag in self.tags]
        parts += [f"metadata {key}" + ("" if value is None else f"={value}")
                  for key, value in self.metadata]
        return "servers with " + " and ".join(parts)

    def query(self):
        """The filters Nova applies itself (GET /servers/detail?tags=a,b: every tag)."""
        return {"tags": ",".join(self.tags)} if self.tags else {}


def parse_metadata(text):
    """`KEY=VALUE` -> (KEY, VALUE); `KEY` -> (KEY, None): any value. Raises ValueError."""
    key, equals, value = text.partition("=")
    key = key.strip()
    if not key:
        raise ValueError(f"not KEY or KEY=VALUE: {text!r}")
    return key, (value if equals else None)


def select(servers, selection):
    """The matching servers, each once, ordered by name then id."""
    chosen = {}
    for server in servers:
        if server.get("id") and selection.matches(server):
            chosen.setdefault(server["id"], server)
    return sorted(chosen.values(), key=lambda s: (s.get("name") or "", s["id"]))


# -- outcomes ---------------------------------------------------------------------------------
class Outcome:
    """One server's result: state requested|captured|active, or failed with an error."""

    __slots__ = ("server_id", "server_name", "image_id", "image_name", "state", "seconds",
                 "error", "method")

    def __init__(self, server_id, server_name, image_id=None, image_name=None, state=FAILED,
                 seconds=0.0, error=None, method=None):
        self.server_id, self.server_name = server_id, server_name
        self.image_id, self.image_name = image_id, image_name
        self.state, self.seconds, self.error, self.method = state, seconds, error, method

    @property
    def failed(self):
        return self.state not in OK_STATES

    def as_dict(self):
        return {"server": self.server_id, "name": self.server_name, "image_id": self.image_id,
                "image_name": self.image_name, "state": self.state,
                "seconds": round(self.seconds, 2), "error": self.error, "method": self.method}


def exit_code(outcomes):
    """0 when every server was backed up, else 1."""
    return 1 if any(outcome.failed for outcome in outcomes) else 0


def summary_dict(outcomes, series, rotation, concurrency, seconds):
    return {"series": series, "rotation": rotation, "concurrency": concurrency,
            "seconds": round(seconds, 2), "servers": [o.as_dict() for o in outcomes],
            "backed_up": sum(1 for o in outcomes if not o.failed),
            "failed": sum(1 for o in outcomes if o.failed), "exit_status": exit_code(outcomes)}


# -- freshness (fleet status) -----------------------------------------------------------------
def parse_age(text):
    """`90` (seconds), `45m`, `26h`, `8d`, `2w` -> seconds. Raises ValueError."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    value = float(number) * units[unit]
    if value <= 0:
        raise ValueError("an age is greater than 0")
    return value


class ServerSeries(SeriesFreshness):
    """One series of one server; series None for a server without any backup."""

    __slots__ = ("server_id", "server_name")

    def __init__(self, server_id, server_name, series, members=(), limit=None):
        super().__init__(series, members, limit=limit)
        self.server_id, self.server_name = server_id, server_name

    def as_dict(self, now):
        """One row as `fleet status --json` gives it."""
        age = self.age(now)
        return {"server": self.server_id, "name": self.server_name, "series": self.series,
                "last_backup": {"id": self.last.get("id"), "name": self.last.get("name"),
                                "created_at": self.last.get("created_at")} if self.last else None,
                "age_seconds": int(age) if age is not None else None,
                "state": self.newest.get("status") if self.newest else None,
                "backups": self.active, "verdict": self.verdict, "why": self.why}


def freshness(servers, images, now, series=(), max_age=None):
    """[ServerSeries], judged against `max_age` (None: no age limit), for every server (in the
    given order) and every series of its backups (or only `series`); a server without any gets
    one row with series None (or one per asked series). A server's backups are the images of
    inventory.server_of it; there is no attempts file here."""
    by_server = {}
    for image in images:
        by_server.setdefault(inventory.server_of(image), []).append(image)
    rows = []
    for server in servers:
        found = backups_by_series(by_server.get(server["id"], ()))
        for name in list(series) if series else sorted(found) or [None]:
            rows.append(ServerSeries(server["id"], server.get("name"), name, found.get(name, ()),
                                     limit=max_age).decide(now))
    return rows
