"""No secret ever reaches output, logs, image names or properties (issue 7, item 4).

Every command runs at the highest verbosity against the real cloud with known credentials; the
password, the application credential's secret and every token the runs used are searched for in
everything they printed and in every image of the server."""

import json
import stat

from cloud_fixtures import openrc_vars, read_state
from runners import run_hook



def hook_output(tool, tmp_path):
    """The apt hook as apt runs it, with the test's settings and credentials: all it printed."""
    settings = tmp_path / "hook.conf"
    settings.write_text(tool.settings.read_text().replace("[log]", f"[cloud]\ncredentials = "
                                                          f"{tool.credentials}\n[log]")
                        + "[apt]\nmin_interval = 0\nwait = 60\n")
    result = run_hook(root=tool.root, settings=settings)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_no_password_secret_or_token_in_any_output_name_or_property(tool, admin, minicloud):
    password = openrc_vars("openrc")["OS_PASSWORD"]
    secret = openrc_vars("appcred-openrc")["OS_APPLICATION_CREDENTIAL_SECRET"]
    outputs = []
    for credentials in ("openrc", "appcred-openrc"):
        tool.credentials.write_text(read_state(credentials) + "\n")
        for args in (("-vv", "snapshot", "daily", "3", "--wait", "active"),
                     ("-vv", "snapshot", "daily", "3", "--dry-run"),
                     ("-vv", "snapshot", "daily", "3", "--json"),
                     ("-vv", "scheduled", "--dry-run", "--no-delay")):
            result = tool(*args)
            assert result.returncode == 0, result.stderr
            outputs.append(result.stdout + result.stderr)
        outputs.append(hook_output(tool, tool.credentials.parent))
        # A refused password at -vv must not echo what was sent either.
        # (Keystone's bcrypt reads 72 bytes of a password: change its start, not its end.)
        tool.credentials.write_text(read_state(credentials).replace(password, "x" + password[1:])
                                    .replace(secret, "x" + secret[1:]) + "\n")
        refused = tool("-vv", "snapshot", "daily", "3")
        assert refused.returncode == 2
        outputs.append(refused.stdout + refused.stderr)

    tokens = [json.loads(path.read_text())["auth_token"] for path in tool.state.glob("token-*")]
    assert len(tokens) == 2                     # one cache per set of credentials, both used
    for path in tool.state.glob("token-*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tool.credentials.stat().st_mode) == 0o600

    images = admin.images(instance_uuid=minicloud["server"])
    assert images, "the runs made no image to inspect"
    everything = "\n".join(outputs) + json.dumps(images)
    assert "DEBUG:" in everything                  # -vv really showed the HTTP conversation
    for value in (password, secret, *tokens):
        assert value not in everything
