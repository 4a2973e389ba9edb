"""The test's own hands inside the real guest: the QEMU guest agent, through virsh, on the local
cloud's libvirtd (minicloud/compute-libvirt). The product never talks to the agent; only tests do.
"""

import base64
import json
import subprocess
import time


class Guest:
    def __init__(self, uri, domain):
        self.uri, self.domain = uri, domain

    def agent(self, command, arguments=None, timeout=10):
        """One agent command; its `return` value. Raises RuntimeError when the agent fails."""
        request = {"execute": command, **({"arguments": arguments} if arguments else {})}
        result = subprocess.run(["virsh", "-c", self.uri, "qemu-agent-command", self.domain,
                                 json.dumps(request), "--timeout", str(timeout)],
                                capture_output=True, text=True, timeout=timeout + 20)
        if result.returncode != 0:
            raise RuntimeError(f"{command}: {result.stderr.strip()}")
        return json.loads(result.stdout)["return"]

    def wait_agent(self, timeout=180):
        """Until the agent answers guest-ping (after a boot)."""
        end = time.monotonic() + timeout
        while True:
            try:
                return self.agent("guest-ping", timeout=5)
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > end:
                    raise
                time.sleep(1)

    def sh(self, script, timeout=60):
        """Run a shell script in the guest; (exit code, stdout)."""
        pid = self.agent("guest-exec", {"path": "/bin/sh", "arg": ["-c", script],
                                        "capture-output": True})["pid"]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            status = self.agent("guest-exec-status", {"pid": pid})
            if status.get("exited"):
                out = base64.b64decode(status.get("out-data", "")).decode(errors="replace")
                return status.get("exitcode"), out
            time.sleep(0.2)
        raise AssertionError(f"guest command did not finish in {timeout} s: {script}")

    def read(self, path):
        code, out = self.sh(f"cat {path} 2>/dev/null || echo MISSING")
        return out.strip()

    def freeze_count(self):
        """How often the agent logged a freeze since the guest booted (its journal)."""
        code, out = self.sh("journalctl -b --no-pager -o cat | grep -c 'guest-fsfreeze called' "
                            "|| true")
        return int(out.strip() or 0)

    def xml(self):
        return subprocess.run(["virsh", "-c", self.uri, "dumpxml", self.domain],
                              capture_output=True, text=True, check=True).stdout


def domain_of(uri, server_id):
    """libvirt names a Nova guest instance-NNNNNNNN; its UUID is the server's id."""
    return subprocess.run(["virsh", "-c", uri, "domname", server_id], capture_output=True,
                          text=True, check=True).stdout.strip()
