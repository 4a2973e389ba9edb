"""`snapshot --name` is checked before the pre hooks freeze the application: Nova would refuse a
bad name only after they did."""

import pytest

from runners import run_cli


def snapshot(tmp_path, name):
    hooks = tmp_path / "hooks.d"
    hooks.mkdir()
    (hooks / "10-freeze").write_text(f"#!/bin/sh\ntouch {tmp_path}/frozen-$1\n")
    (hooks / "10-freeze").chmod(0o755)
    creds = tmp_path / "credentials"
    creds.write_text("export OS_AUTH_URL=http://127.0.0.1:9/v3\nexport OS_USERNAME=u\n"
                     "export OS_PASSWORD=Secret-Pw-123\nexport OS_PROJECT_NAME=p\n")
    creds.chmod(0o600)
    conf = tmp_path / "nsh.conf"
    conf.write_text(f"[cloud]\ncredentials = {creds}\n[server]\nid = 11111111-2222-3333-4444-"
                    f"555555555555\nmetadata_url =\n[snapshot]\nlock = {tmp_path}/lock\n"
                    f"timeout = 10\n[log]\nsyslog = no\n[hooks]\ndirectory = {hooks}\n")
    result = run_cli("snapshot", "--name", name, root=tmp_path / "host", settings=conf,
                     inherit=False, timeout=60)
    return result, (tmp_path / "frozen-pre").exists()


@pytest.mark.parametrize("name, problem", [
    (" padded", "white space"), ("x" * 256, "at most 255"), ("", "empty"),
    ("bad\x1b[2Jname", "control"), ("rtl\u202ename", "control")])
def test_a_bad_name_is_refused_before_any_hook_runs(tmp_path, name, problem):
    result, frozen = snapshot(tmp_path, name)
    assert result.returncode == 2, result.stderr
    assert problem in result.stderr and "--name" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "\x1b" not in result.stderr
    assert not frozen


def test_a_good_name_reaches_the_hooks(tmp_path):
    result, frozen = snapshot(tmp_path, "web01 before the big migration")
    assert result.returncode == 1 and "cannot reach 127.0.0.1:9" in result.stderr
    assert frozen
