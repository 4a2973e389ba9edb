"""Will Nova freeze this VM? The verdict (rules/quiesce.py) from the image's properties and the
VM's own evidence (guest_agent.py), read from fixture roots."""

import pytest

from nova_snapshot_hook import guest_agent
from nova_snapshot_hook.rules import quiesce


def root_with(tmp_path, port=False, agent=False):
    root = tmp_path / "root"
    (root / "proc" / "1").mkdir(parents=True)
    (root / "proc" / "1" / "comm").write_text("systemd\n")
    if port:
        (root / "dev" / "virtio-ports").mkdir(parents=True)
        (root / guest_agent.PORT).write_text("")
    if agent:
        (root / "proc" / "412").mkdir()
        (root / "proc" / "412" / "comm").write_text("qemu-ga\n")
    return str(root)


@pytest.mark.parametrize("port, agent", [(False, False), (True, False), (True, True)])
def test_the_vm_evidence_is_read_from_the_root(tmp_path, port, agent):
    root = root_with(tmp_path, port, agent)
    assert guest_agent.agent_port(root) is port
    assert guest_agent.agent_running(root) is agent
    assert quiesce.expected(port, agent) == ("agent" if port and agent else "none")


def test_image_port_and_agent_together_mean_nova_freezes():
    state, text = quiesce.verdict({"hw_qemu_guest_agent": "yes"}, True, True)
    assert state == "OK" and "freezes the filesystems" in text


@pytest.mark.parametrize("properties, port, agent, fix", [
    ({}, False, False, "set hw_qemu_guest_agent=yes"),
    ({"hw_qemu_guest_agent": "yes"}, False, False, "hard-reboot"),
    ({"hw_qemu_guest_agent": "True"}, True, False, "install and start qemu-guest-agent"),
])
def test_anything_missing_is_crash_consistent_with_what_to_change(properties, port, agent, fix):
    state, text = quiesce.verdict(properties, port, agent)
    assert state == "WARN" and "crash-consistent" in text and fix in text


def test_a_required_quiesce_that_cannot_happen_fails():
    state, text = quiesce.verdict({"hw_qemu_guest_agent": "yes", "os_require_quiesce": "yes"},
                                  True, False)
    assert state == "FAIL" and "fails every snapshot" in text
