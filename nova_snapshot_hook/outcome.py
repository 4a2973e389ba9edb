"""`nova-snapshot-hook apt-post-invoke`: after dpkg, record on the backup image taken before it
whether the apt run succeeded (property nsh_outcome), so `list` can say "before: upgrade openssl
-> failed". It never fails apt; with no backup taken in this run it only looks for a file.
"""

import os
import sys

from .hook import PENDING_OUTCOME, PROGRAM, state_dir

DPKG_QUERY = "/usr/bin/dpkg-query"
WAIT = 30.0      # seconds for the one Glance request; apt still holds its lock


def main(argv):
    path = os.path.join(state_dir(), PENDING_OUTCOME)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        os.unlink(path)
    except OSError:
        return 0
    try:
        image_id, expected = parse_pending(text)
        if image_id:
            record(image_id, outcome(expected, installed(list(expected))))
    except Exception as err:           # never fail apt over a label
        print(f"WARNING: {PROGRAM}could not record the apt run's outcome: {err}", file=sys.stderr)
    return 0


def parse_pending(text):
    """The file hook._expected_outcome wrote: (image id, {"name:arch": version or "-"})."""
    image_id, expected = None, {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "image":
            image_id = value.strip() or None
        elif key:
            expected[key] = value.strip()
    return image_id, expected


def installed(packages):
    """{"name:arch": version} of the packages dpkg has installed now (status ii)."""
    import subprocess
    if not packages:
        return {}
    query = [DPKG_QUERY, "-W", "-f=${Package}:${Architecture} ${db:Status-Abbrev}${Version}\n",
             *packages]
    output = subprocess.run(query, capture_output=True, text=True, timeout=60).stdout
    found = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == "ii":
            found[fields[0]] = fields[2]
    return found


def outcome(expected, found):
    """'succeeded' when every package is where apt meant to put it, else 'failed'."""
    for package, version in expected.items():
        if version == "-":
            if package in found:
                return "failed"
        elif found.get(package) != version:
            return "failed"
    return "succeeded"


def record(image_id, result):
    from . import naming
    from .backup import load_credentials, watchdog
    from .cloud import Cloud
    from .config import load_settings

    settings = load_settings()
    with watchdog(WAIT):
        cloud = Cloud(load_credentials(settings), settings)
        cloud.set_image_properties(image_id, {naming.PREFIX + "outcome": result})
    print(f"INFO: {PROGRAM}backup image {image_id}: the apt run that followed it {result}.")
