"""`pin` and `unpin` against the real cloud: a pinned backup survives Nova's own createBackup
rotation and ours (createImage), and its series keeps its count; unpin gives it back."""

import json
import time

SERIES = "pintest"


def snapshot(tool, rotation, *extra):
    if "--method" not in extra:     # createBackup: Nova's rotation orders by created_at alone,
        time.sleep(1.1)             # which has whole seconds (ours also by nsh_requested)
    result = tool("snapshot", SERIES, str(rotation), "--wait", "active", "--json", *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["image_id"]


def ours(admin, server):
    return {image["id"]: image for image in admin.images(instance_uuid=server)}


def test_a_pin_survives_three_createbackup_rotations_and_unpin_returns_it(tool, admin, minicloud):
    server = minicloud["server"]
    first = snapshot(tool, 2)
    pinned = tool("pin", first)
    assert pinned.returncode == 0, pinned.stderr
    image = admin.glance.get(f"/v2/images/{first}").json()
    assert image["protected"] and image["backup_type"] == "pinned"
    assert image["nsh_series"] == "pinned" and image["nsh_pinned_from"] == SERIES
    made = [snapshot(tool, 2) for _ in range(3)]
    admin.wait_idle(server)
    time.sleep(1)                                 # Nova rotates right after task_state is reset
    images = ours(admin, server)
    assert first in images                        # the pin survived three rotations
    series = sorted(i["id"] for i in images.values() if i.get("backup_type") == SERIES)
    assert series == sorted(made[1:])             # and the series kept its count, 2
    listed = tool("list")
    row = [line for line in listed.stdout.splitlines() if first in line]
    assert len(row) == 1 and " PK " in row[0], listed.stdout
    # a second pin is refused in one line; a series named "pinned" is refused
    again = tool("pin", first)
    assert again.returncode == 2 and "pinned already" in again.stderr
    assert tool("snapshot", "pinned", "2").returncode == 2

    unpinned = tool("unpin", first)
    assert unpinned.returncode == 0, unpinned.stderr
    image = admin.glance.get(f"/v2/images/{first}").json()
    assert not image["protected"] and image["backup_type"] == SERIES
    assert "nsh_pinned_from" not in image
    snapshot(tool, 2)                             # the next rotation counts it again: oldest goes
    admin.wait_idle(server)
    time.sleep(1)
    assert first not in ours(admin, server)


def test_a_pin_survives_our_own_createimage_rotation(tool, admin, minicloud):
    first = snapshot(tool, 1, "--method", "image")
    assert tool("pin", first).returncode == 0
    for _ in range(2):
        snapshot(tool, 1, "--method", "image")
    images = ours(admin, minicloud["server"])
    assert first in images and images[first]["nsh_series"] == "pinned"
    assert len([i for i in images.values() if i.get("nsh_series") == SERIES]) == 1
    # prune never counts a pinned image either
    pruned = tool("prune", "--keep", "1", "--delete")
    assert pruned.returncode == 0, pruned.stderr
    assert first in ours(admin, minicloud["server"])
    assert tool("unpin", first).returncode == 0   # unprotected, so the fixture can delete it
