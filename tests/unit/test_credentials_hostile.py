"""Every file the credentials are read from (the conffile, clouds.yaml, secure.yaml) belongs to
root or the user running the command, and nobody else can write it: whoever writes clouds.yaml
chooses auth_url and verify, so the password in secure.yaml would go to their Keystone."""

import os
from pathlib import Path

import pytest

from nova_snapshot_hook.cloud.credentials import load_credentials
from nova_snapshot_hook.errors import CredentialsError

SECRET = "Pa55-w0rd!s3cret"
APP_SECRET = "app-cred-s3cret-XYZ"
CLOUDS_WITHOUT_SECRET = """\
clouds:
  mycloud:
    auth:
      auth_url: https://keystone.example.com:5000/v3
      username: alice
      project_name: demo
"""
SECURE_WITH_PASSWORD = f"""\
clouds:
  mycloud:
    auth:
      password: "{SECRET}"
"""
SECURE_WITHOUT_SECRET = """\
clouds:
  mycloud:
    region_name: RegionOne
"""
CLOUDS_WITH_EVERYTHING = CLOUDS_WITHOUT_SECRET + f'      password: "{SECRET}"\n'
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


def write(path, text, mode=0o600):
    Path(path).write_text(text)
    os.chmod(path, mode)
    return str(path)


def layout(tmp_path, clouds_text=CLOUDS_WITHOUT_SECRET, clouds_mode=0o644,
          secure_text=SECURE_WITH_PASSWORD, secure_mode=0o600):
    clouds = write(tmp_path / "clouds.yaml", clouds_text, clouds_mode)
    secure = write(tmp_path / "secure.yaml", secure_text, secure_mode) if secure_text else None
    conffile = write(tmp_path / "credentials",
                     f"OS_CLOUD=mycloud\nOS_CLIENT_CONFIG_FILE={clouds}\n")
    return conffile, clouds, secure


def refused(conffile):
    with pytest.raises(CredentialsError) as info:
        load_credentials(conffile, environ={})
    text = str(info.value)
    assert SECRET not in text and APP_SECRET not in text and "\n" not in text
    return info.value


def test_the_safe_layout_is_accepted(tmp_path):
    conffile, _, _ = layout(tmp_path)
    assert load_credentials(conffile, environ={}).password == SECRET


@pytest.mark.parametrize("mode", [0o666, 0o646, 0o664, 0o620, 0o602], ids=oct)
def test_a_clouds_yaml_others_can_write_is_refused_even_without_a_secret(tmp_path, mode):
    conffile, clouds, _ = layout(tmp_path, clouds_mode=mode)
    err = refused(conffile)
    assert f"{clouds} has mode {mode:04o}" in str(err)
    assert "chmod 600 " + clouds in err.fix


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o622], ids=oct)
def test_a_secure_yaml_others_can_write_is_refused_even_without_a_secret(tmp_path, mode):
    conffile, _, secure = layout(tmp_path, clouds_text=CLOUDS_WITH_EVERYTHING,
                                clouds_mode=0o600, secure_text=SECURE_WITHOUT_SECRET,
                                secure_mode=mode)
    err = refused(conffile)
    assert f"{secure} has mode {mode:04o}" in str(err)
    assert "chmod 600 " + secure in err.fix


def test_a_clouds_yaml_without_secret_may_be_readable_by_others(tmp_path):
    conffile, _, _ = layout(tmp_path, clouds_mode=0o644)
    assert load_credentials(conffile, environ={}).username == "alice"


def test_a_secure_yaml_without_secret_for_this_cloud_may_be_readable_by_others(tmp_path):
    conffile, _, _ = layout(tmp_path, clouds_text=CLOUDS_WITH_EVERYTHING, clouds_mode=0o600,
                           secure_text=SECURE_WITHOUT_SECRET, secure_mode=0o644)
    assert load_credentials(conffile, environ={}).region_name == "RegionOne"


@needs_root
def test_a_clouds_yaml_owned_by_another_user_is_refused_even_without_a_secret(tmp_path):
    conffile, clouds, _ = layout(tmp_path)
    os.chown(clouds, 65534, 65534)
    err = refused(conffile)
    assert "owned by" in str(err) and "65534" in str(err) and clouds in str(err)
    assert err.fix == f"chown root:root {clouds}"


@needs_root
def test_a_secure_yaml_owned_by_another_user_is_refused_even_without_a_secret(tmp_path):
    conffile, _, secure = layout(tmp_path, clouds_text=CLOUDS_WITH_EVERYTHING, clouds_mode=0o600,
                                secure_text=SECURE_WITHOUT_SECRET, secure_mode=0o644)
    os.chown(secure, 1000, 1000)
    err = refused(conffile)
    assert "owned by" in str(err) and secure in str(err)


@needs_root
def test_a_wrong_owner_and_a_wrong_mode_are_fixed_in_one_go(tmp_path):
    conffile, clouds, _ = layout(tmp_path, clouds_mode=0o666)
    os.chown(clouds, 65534, 65534)
    err = refused(conffile)
    assert err.fix == f"chown root:root {clouds} && chmod 600 {clouds}"


@pytest.mark.parametrize("mode", [0o666, 0o602, 0o620], ids=oct)
def test_a_credentials_conffile_others_can_write_is_refused(tmp_path, mode):
    conffile, _, _ = layout(tmp_path)
    os.chmod(conffile, mode)
    err = refused(conffile)
    assert f"{conffile} has mode {mode:04o}" in str(err) and "chmod 600" in err.fix


def test_a_clouds_yaml_named_by_the_environment_is_checked_too(tmp_path):
    _, clouds, _ = layout(tmp_path, clouds_mode=0o666)
    empty = write(tmp_path / "empty", "# nothing\n")
    with pytest.raises(CredentialsError, match="mode 0666"):
        load_credentials(empty, environ={"OS_CLOUD": "mycloud", "OS_CLIENT_CONFIG_FILE": clouds})


@pytest.mark.parametrize("key, mode, refused", [
    ("OS_CACERT", 0o644, False), ("OS_CACERT", 0o666, True), ("OS_CACERT", 0o664, True),
    ("OS_KEY", 0o600, False), ("OS_KEY", 0o640, True)])
def test_a_tls_file_others_can_write_or_a_key_others_can_read_is_refused(tmp_path, key, mode,
                                                                        refused):
    from nova_snapshot_hook.cloud.credentials import credentials_from_vars
    from nova_snapshot_hook.errors import CredentialsError
    tls = tmp_path / "tls.pem"
    tls.write_text("-----BEGIN CERTIFICATE-----\n")
    tls.chmod(mode)
    variables = {"OS_AUTH_URL": "https://127.0.0.1:5000/v3", "OS_USERNAME": "u",
                 "OS_PASSWORD": "pw-12345", "OS_PROJECT_NAME": "p", key: str(tls)}
    if key == "OS_KEY":
        variables["OS_CERT"] = str(tls)
        tls.chmod(mode)
    if refused:
        with pytest.raises(CredentialsError, match=str(tls)) as raised:
            credentials_from_vars(variables, "test")
        assert "chmod" in raised.value.fix
    else:
        assert credentials_from_vars(variables, "test").auth_url.startswith("https://")
