"""What this VM itself shows about Nova's quiesce: the QEMU guest agent's virtio port (Nova adds
the channel at boot only when the image has hw_qemu_guest_agent=yes) and whether the agent runs.
Local files only, read under `root` (the settings' identity_root, "/" on a VM)."""

import os

PORT = "dev/virtio-ports/org.qemu.guest_agent.0"
AGENT_NAMES = ("qemu-ga", "qemu-guest-agent")


def agent_port(root="/"):
    return os.path.exists(os.path.join(root, PORT))


def agent_running(root="/"):
    """Whether a process named like the agent runs (its /proc/PID/comm)."""
    proc = os.path.join(root, "proc")
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            with open(os.path.join(proc, pid, "comm"), encoding="utf-8") as handle:
                if handle.read().strip() in AGENT_NAMES:
                    return True
        except OSError:
            continue
    return False
