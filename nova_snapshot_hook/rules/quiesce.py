"""Will Nova freeze this VM's filesystems for a backup? Pure: three facts in, a verdict out.

Nova quiesces through qemu-guest-agent only when the server's image (for a volume-backed server,
its root volume's image metadata) has `hw_qemu_guest_agent=yes`, which also gave the VM the
agent's virtio port at boot, and when the agent answers. Otherwise Nova logs "Skipping quiescing"
and the backup is crash-consistent; with `os_require_quiesce=yes` it fails the snapshot instead.
"""

AGENT, NONE = "agent", "none"
PROPERTY = "nsh_quiesce"


def _yes(value):
    return str(value).strip().lower() in ("yes", "true", "1")


def expected(port, running):
    """What a backup taken now should get, from the VM's own evidence: the port exists only when
    the image asked for the agent at boot, so port and agent together mean Nova will freeze."""
    return AGENT if port and running else NONE


def verdict(image_properties, port, running):
    """(state, text): OK for application-consistent backups through the agent, WARN for
    crash-consistent ones, each with what to change."""
    wants = _yes((image_properties or {}).get("hw_qemu_guest_agent"))
    requires = _yes((image_properties or {}).get("os_require_quiesce"))
    facts = (f"image hw_qemu_guest_agent={'yes' if wants else 'no'}"
             f"{', os_require_quiesce=yes' if requires else ''}; agent port "
             f"{'present' if port else 'absent'}; qemu-guest-agent "
             f"{'running' if running else 'not running'}")
    if wants and port and running:
        return "OK", (f"{facts}: Nova freezes the filesystems for each backup "
                      "(application-consistent where the applications flush on freeze)")
    if not wants:
        fix = ("set hw_qemu_guest_agent=yes on the server's image (or its root volume's image "
               "metadata) and rebuild or reboot from it (the port is made at boot), and install "
               "qemu-guest-agent")
    elif not port:
        fix = "the port is made at boot: hard-reboot the server (openstack server reboot --hard)"
    else:
        fix = "install and start qemu-guest-agent in this VM"
    if requires and wants:
        return "FAIL", f"{facts}: Nova fails every snapshot (os_require_quiesce); {fix}"
    return "WARN", f"{facts}: backups are crash-consistent; to quiesce: {fix}"
