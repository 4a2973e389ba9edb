"""The local cloud's state files as its clients read them: the tests (tests/integration/
cloud_fixtures.py), the benchmarks and the soak (bench/support/cloudbench.py).

$MINICLOUD_STATE, by default .state/minicloud in this repository, as minicloud/up writes it:
server_id, image_id, the openrc files, env. Standard library only; the clients put minicloud/
on sys.path and `import minicloud_state`.
"""

import os
import shlex

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.environ.get("MINICLOUD_STATE", os.path.join(REPO, ".state", "minicloud"))


def read_state(name):
    """The text of state file `name`, stripped."""
    with open(os.path.join(STATE, name), encoding="utf-8") as handle:
        return handle.read().strip()


def openrc_vars(name):
    """OS_* values of a minicloud openrc (`openrc`, `admin-openrc`, `appcred-openrc`...), for the
    clients' own use (never the code under test, which reads the file itself)."""
    values = {}
    for line in read_state(name).splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        if line.startswith("OS_") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = shlex.split(value)[0] if value else ""
    return values
