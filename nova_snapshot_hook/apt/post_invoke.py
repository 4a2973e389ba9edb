"""`nova-snapshot-hook apt-post-invoke`: after dpkg, record on the backup image taken before it
whether the apt run succeeded (property nsh_outcome), so `list` can say "before: upgrade openssl
-> failed". It never fails apt; with no backup taken in this run it only looks for a file.
"""

import sys

from . import state
from .state import MAX_CHANGE_PROPERTIES, PROGRAM

DPKG_QUERY = "/usr/bin/dpkg-query"
WAIT = 30.0      # seconds for the one Glance request; apt still holds its lock


def main(argv):
    pending, later = state.take(state.PENDING_OUTCOME), state.take(state.LATER_CHANGES)
    if pending is None and later is None:
        return 0
    try:
        properties = {}
        image_id, expected = state.parse_pending_outcome(pending or "")
        if image_id:
            result = outcome(expected, installed(list(expected)))
            properties[image_id] = {"nsh_outcome": result}
            print(f"INFO: {PROGRAM}backup image {image_id}: the apt run that followed it {result}.")
        later_image, chunks = state.parse_later_changes(later or "")
        if later_image and chunks:
            properties.setdefault(later_image, {})["later"] = chunks
        record(properties)
    except Exception as err:           # never fail apt over a label
        from ..text import printable       # the error may quote the cloud
        print(f"WARNING: {PROGRAM}could not record the apt run's outcome: {printable(str(err))}",
              file=sys.stderr)
    return 0


def installed(packages):
    """{"name:arch": version} of the packages dpkg has installed now (status ii)."""
    import subprocess
    if not packages:
        return {}
    query = [DPKG_QUERY, "-W", "-f=${Package}:${Architecture} ${db:Status-Abbrev}${Version}\n",
             "--", *packages]      # a name read back from a file is never an option
    output = subprocess.run(query, capture_output=True, text=True, timeout=60).stdout
    found = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == "ii":
            found[fields[0]] = fields[2]
    return found


def outcome(expected, found):
    """'succeeded' when every package is where apt meant to put it, else 'failed'."""
    from ..rules.outcome import FAILED, SUCCEEDED
    for package, version in expected.items():
        if version == "-":
            if package in found:
                return FAILED
        elif found.get(package) != version:
            return FAILED
    return SUCCEEDED


def later_properties(image, chunks):
    """nsh_later_NN properties that continue the image's own numbering, within the cap."""
    taken = sum(1 for key in image if key.startswith("nsh_later_"))
    free = max(0, MAX_CHANGE_PROPERTIES - taken)
    return {f"nsh_later_{taken + n:02d}": chunk for n, chunk in enumerate(chunks[:free], 1)}


def record(properties):
    """Write {image id: {property: value, "later": [chunks]}} with one session."""
    from ..config import load_settings
    from ..context import Context

    with Context.for_settings(load_settings(), prefix=PROGRAM) as ctx, ctx.bounded(WAIT):
        cloud = ctx.cloud
        for image_id, wanted in properties.items():
            chunks = wanted.pop("later", [])
            if chunks:
                image = cloud.get_image(image_id)
                if image is None:
                    continue
                wanted.update(later_properties(image, chunks))
            if wanted:
                cloud.set_image_properties(image_id, wanted)
