"""`check` says what leaves the credentials open (issue 22): TLS verification off, a plain
http:// Keystone, a proxy password in the world-readable settings file, and a credentials file
others can change. Through the real CLI against the fake cloud of test_access_rules (its
HTTPAdapter.send is replaced: nothing is sent anywhere)."""

import os

import pytest

from runners import call_cli
from test_access_rules import fake

__all__ = ["fake"]  # the fake cloud fixture: pytest finds it here by name (pyflakes: used)

PROXY_SECRET = "Pr0xy-s3cret"


def lines(capsys):
    out, err = capsys.readouterr()
    assert PROXY_SECRET not in out + err
    return [line for line in out.splitlines()
            if line.startswith(("OK:", "WARN:", "FAIL:", "SKIP:"))]


def starting(found, prefix):
    return [line for line in found if line.startswith(prefix)]


def check_with(fake, capsys, monkeypatch, **variables):
    """`check` against the fake cloud with these environment variables set: its lines."""
    _, _, run = fake()
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    run("check")
    return lines(capsys)


def test_tls_verification_off_is_a_warn_line_and_the_checks_go_on(fake, capsys, monkeypatch):
    found = check_with(fake, capsys, monkeypatch, OS_INSECURE="true")
    warned, = starting(found, "WARN: TLS: ")
    assert "certificate verification is off (OS_INSECURE=true in the environment" in warned
    assert "OS_CACERT" in warned
    assert starting(found, "OK: token: ") and starting(found, "OK: server: ")


def test_verify_false_in_clouds_yaml_is_named_as_clouds_yaml_spells_it(fake, capsys, monkeypatch,
                                                                      tmp_path):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  c:\n    auth:\n"
                      "      auth_url: https://keystone.example/identity/v3\n"
                      "      application_credential_id: ac1\n"
                      "      application_credential_secret: fake-secret\n"
                      "    region_name: R\n    verify: false\n")
    os.chmod(clouds, 0o600)
    found = check_with(fake, capsys, monkeypatch, OS_CLOUD="c", OS_CLIENT_CONFIG_FILE=str(clouds))
    warned, = starting(found, "WARN: TLS: ")
    assert "verify: false" in warned and str(clouds) in warned


def test_a_plain_http_auth_url_is_a_warn_line(fake, capsys, monkeypatch):
    found = check_with(fake, capsys, monkeypatch,
                       OS_AUTH_URL="http://keystone.example:5000/identity/v3")
    warned, = starting(found, "WARN: auth URL: ")
    assert "http://keystone.example:5000/identity/v3 is plain http://" in warned
    assert "https://" in warned and "application credential secret" in warned
    assert starting(found, "OK: token: ")


@pytest.mark.parametrize("url", ["https://keystone.example/identity/v3",
                                 "http://127.0.0.1:9/identity/v3"])   # loopback never leaves
def test_https_or_loopback_with_verification_on_adds_no_line(fake, capsys, monkeypatch, url):
    found = check_with(fake, capsys, monkeypatch, OS_AUTH_URL=url)
    assert not starting(found, "WARN: TLS") and not starting(found, "WARN: auth URL")


def with_proxy(tmp_path, proxy):
    settings = tmp_path / "nsh.conf"
    settings.write_text(settings.read_text() + f"[cloud]\nhttps_proxy = {proxy}\n")
    return settings


def test_a_proxy_password_in_the_world_readable_settings_is_a_warn_masked(fake, capsys,
                                                                          tmp_path):
    _, _, run = fake()
    settings = with_proxy(tmp_path, f"http://nsh:{PROXY_SECRET}@127.0.0.1:3128")
    os.chmod(settings, 0o644)
    run("check")
    found = lines(capsys)
    warned, = starting(found, "WARN: proxy: ")
    assert warned.startswith("WARN: proxy: http://***@127.0.0.1:3128")
    assert f"{settings} (mode 0644) is readable by every local user" in warned
    assert f"chmod 600 {settings}" in warned and "needs no password" in warned
    assert starting(found, "OK: settings: ") and starting(found, "OK: token: ")


def test_a_proxy_password_in_a_root_only_settings_file_is_ok(fake, capsys, tmp_path):
    _, _, run = fake()
    settings = with_proxy(tmp_path, f"http://nsh:{PROXY_SECRET}@127.0.0.1:3128")
    os.chmod(settings, 0o600)
    run("check")
    assert starting(lines(capsys), "OK: proxy: http://***@127.0.0.1:3128")


def test_a_proxy_without_password_is_ok_with_its_no_proxy(fake, capsys, tmp_path):
    _, _, run = fake()
    settings = with_proxy(tmp_path, "http://127.0.0.1:3128")
    settings.write_text(settings.read_text() + "no_proxy = 127.0.0.1, .internal\n")
    run("check")
    ok, = starting(lines(capsys), "OK: proxy: ")
    assert ok == "OK: proxy: http://127.0.0.1:3128; direct to 127.0.0.1, .internal"


def test_no_proxy_line_without_a_proxy(fake, capsys):
    _, _, run = fake()
    run("check")
    found = lines(capsys)       # read once: a second read finds nothing
    assert not starting(found, "OK: proxy") and not starting(found, "WARN: proxy")


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646], ids=oct)
def test_a_clouds_yaml_others_can_write_fails_the_check_naming_file_and_fix(fake, capsys,
                                                                          monkeypatch, tmp_path,
                                                                          mode):
    _, _, run = fake()
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  c:\n    auth:\n      auth_url: https://keystone.example/v3\n"
                      "      application_credential_id: ac1\n")
    os.chmod(clouds, mode)
    (tmp_path / "secure.yaml").write_text("clouds:\n  c:\n    auth:\n"
                                          "      application_credential_secret: fake-secret\n")
    os.chmod(tmp_path / "secure.yaml", 0o600)
    monkeypatch.setenv("OS_CLOUD", "c")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    assert run("check") == 2
    found = lines(capsys)
    failed, = starting(found, "FAIL: credentials: ")
    assert f"{clouds} has mode {mode:04o}" in failed and f"chmod 600 {clouds}" in failed
    assert starting(found, "SKIP: token: ")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_clouds_yaml_of_another_user_fails_the_check_with_chown(fake, capsys, monkeypatch,
                                                                 tmp_path):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  c:\n    auth:\n      auth_url: https://keystone.example/v3\n")
    os.chmod(clouds, 0o666)
    os.chown(clouds, 65534, 65534)
    found = check_with(fake, capsys, monkeypatch, OS_CLOUD="c", OS_CLIENT_CONFIG_FILE=str(clouds))
    failed, = starting(found, "FAIL: credentials: ")
    assert str(clouds) in failed and f"chown root:root {clouds} && chmod 600 {clouds}" in failed


def test_a_credentials_conffile_others_can_write_fails_the_check(fake, capsys, tmp_path):
    fake()
    conffile = tmp_path / "credentials"
    conffile.write_text("export OS_AUTH_URL=https://keystone.example/identity/v3\n")
    os.chmod(conffile, 0o666)
    assert call_cli("-c", tmp_path / "nsh.conf", "--credentials", conffile, "check").returncode == 2
    failed, = starting(lines(capsys), "FAIL: credentials: ")
    assert f"{conffile} has mode 0666" in failed and f"chmod 600 {conffile}" in failed


def test_a_warn_does_not_skip_the_checks_that_need_it(fake, capsys, monkeypatch):
    """An image-backed server with a volume attached: the volumes line warns, and the volume
    quota check that needs it still runs (a SKIP would fail the whole check)."""
    cloud, _, run = fake()
    plain = cloud.server

    def with_volume():
        server = plain()
        server["os-extended-volumes:volumes_attached"] = [{"id": "vol1"}]
        return server
    monkeypatch.setattr(cloud, "server", with_volume)
    run("check")
    found = lines(capsys)
    assert starting(found, "WARN: volumes: ")
    assert starting(found, "OK: volume quota: not needed"), found
    assert not starting(found, "SKIP:")
