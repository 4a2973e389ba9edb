"""The files the apt hook, apt-post-invoke and the token cache keep between runs, and the prefix
of the hook's lines in apt's output. A module of names only, so apt-post-invoke and the token
cache need not import the hook (and with it apt's stream parser) to find them."""

import os

STATE_DIR = "/run/nova-snapshot-hook"          # tmpfs: never captured inside a backup image
LAST_SNAPSHOT = "last-apt-snapshot"            # policy.Transaction of the last snapshot taken
PENDING_OUTCOME = "pending-outcome"            # read by apt-post-invoke (outcome.py)
LATER_CHANGES = "later-changes"                # likewise: changes made under an earlier backup
PROGRAM = "nova-snapshot-hook: "               # the hook's lines: "LEVEL: nova-snapshot-hook: ..."
MAX_CHANGE_PROPERTIES = 40                     # Glance's default quota is 128 properties


def state_dir():
    return os.environ.get("NOVA_SNAPSHOT_HOOK_STATE_DIR", STATE_DIR)
