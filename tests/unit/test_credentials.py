"""The credentials conffile, clouds.yaml and OS_* variables: parsing, validation, file safety, precedence.

Every error test also checks that no secret leaks into the message or the repr.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from nova_snapshot_hook.cloud import credentials as creds_module
from nova_snapshot_hook.cloud.credentials import (
    APPLICATION_CREDENTIAL, PASSWORD, CredentialsNotConfigured, credentials_from_vars,
    load_credentials, parse_openrc, require_private)
from nova_snapshot_hook.errors import CredentialsError

REPO = Path(__file__).resolve().parents[2]
SECRET = "Pa55-w0rd!s3cret"
APP_SECRET = "app-cred-s3cret-XYZ"
SECRETS = (SECRET, APP_SECRET)

# What Horizon's "OpenStack RC File" (Identity v3) looks like once rendered.
HORIZON_V3 = """\
#!/usr/bin/env bash
# To use an OpenStack cloud you need to authenticate against the Identity service.
export OS_AUTH_URL="https://keystone.example.com:5000/v3"
export OS_PROJECT_ID="6a2b0c5f1e2d4c3b9a8f7e6d5c4b3a21"
export OS_PROJECT_NAME="demo"
export OS_USER_DOMAIN_NAME="Default"
if [ -z "$OS_USER_DOMAIN_NAME" ]; then unset OS_USER_DOMAIN_NAME; fi
export OS_PROJECT_DOMAIN_ID="default"
if [ -z "$OS_PROJECT_DOMAIN_ID" ]; then unset OS_PROJECT_DOMAIN_ID; fi

# unset v2.0 items in case set
unset OS_TENANT_ID
unset OS_TENANT_NAME

export OS_USERNAME="alice"
echo "Please enter your OpenStack Password for project $OS_PROJECT_NAME as user $OS_USERNAME: "
read -sr OS_PASSWORD_INPUT
export OS_PASSWORD="$OS_PASSWORD_INPUT"

export OS_REGION_NAME="RegionOne"
if [ -z "$OS_REGION_NAME" ]; then unset OS_REGION_NAME; fi
export OS_INTERFACE=public
export OS_IDENTITY_API_VERSION=3
"""
PROMPT_LINE = 18

HORIZON_V3_FIXED = HORIZON_V3.replace(
    'echo "Please enter your OpenStack Password for project $OS_PROJECT_NAME as user $OS_USERNAME: "\n'
    'read -sr OS_PASSWORD_INPUT\nexport OS_PASSWORD="$OS_PASSWORD_INPUT"\n',
    f"export OS_PASSWORD='{SECRET}'\n")

HORIZON_APPLICATION_CREDENTIAL = f"""\
#!/usr/bin/env bash

export OS_AUTH_TYPE=v3applicationcredential
export OS_AUTH_URL=https://keystone.example.com:5000/v3
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME="RegionOne"
export OS_INTERFACE=public
export OS_APPLICATION_CREDENTIAL_ID=0f1e2d3c4b5a69788796a5b4c3d2e1f0
export OS_APPLICATION_CREDENTIAL_SECRET={APP_SECRET}
"""

PASSWORD_VARS = {"OS_AUTH_URL": "https://keystone.example.com:5000/v3", "OS_USERNAME": "alice",
                 "OS_PASSWORD": SECRET, "OS_PROJECT_NAME": "demo"}
APPCRED_VARS = {"OS_AUTH_URL": "https://keystone.example.com:5000/v3",
                "OS_APPLICATION_CREDENTIAL_ID": "0f1e2d3c", "OS_APPLICATION_CREDENTIAL_SECRET": APP_SECRET}
NO_ENVIRONMENT = {}


def write_private(path, text, mode=0o600):
    path = Path(path)
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def raised(call, *args, **kwargs):
    """The CredentialsError a call raises, already checked for leaked secrets."""
    with pytest.raises(CredentialsError) as info:
        call(*args, **kwargs)
    assert_no_secret(str(info.value), repr(info.value))
    return info.value


# ---------------------------------------------------------------- Horizon's files

def test_horizon_openrc_that_prompts_for_the_password_is_refused_with_line_and_fix(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_V3)
    err = raised(load_credentials, path, environ=NO_ENVIRONMENT)
    message = str(err)
    assert f"{path}:{PROMPT_LINE}:" in message
    assert "prompt" in message and "apt or cron" in message
    assert "OS_PASSWORD='...'" in err.fix and "application credential" in err.fix


def test_horizon_openrc_with_the_password_written_in_gives_password_credentials(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED)
    creds = load_credentials(path, environ=NO_ENVIRONMENT)
    assert creds.auth_type == PASSWORD
    assert (creds.username, creds.password, creds.project_name) == ("alice", SECRET, "demo")
    assert (creds.region_name, creds.interface, creds.verify, creds.source) == (
        "RegionOne", "public", True, path)
    assert creds.auth_kwargs() == {
        "auth_url": "https://keystone.example.com:5000/v3", "username": "alice",
        "user_domain_name": "Default", "password": SECRET,
        "project_id": "6a2b0c5f1e2d4c3b9a8f7e6d5c4b3a21"}


@pytest.mark.parametrize("written", ["$OS_PASSWORD_INPUT", "${OS_PASSWORD_INPUT}", '"$OS_PASSWORD_INPUT"'])
def test_every_spelling_of_the_prompt_variable_is_recognised(written):
    text = f"read -s OS_PASSWORD_INPUT\nOS_PASSWORD={written}\n"
    assert "password prompt" in str(raised(parse_openrc, text, "rc"))


def test_a_real_password_after_horizons_prompt_lines_is_accepted():
    variables = parse_openrc(HORIZON_V3 + f"export OS_PASSWORD='{SECRET}'\n", "rc")
    assert variables["OS_PASSWORD"] == SECRET


def test_horizon_application_credential_openrc_gives_application_credential(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_APPLICATION_CREDENTIAL)
    creds = load_credentials(path, environ=NO_ENVIRONMENT)
    assert creds.auth_type == APPLICATION_CREDENTIAL
    assert creds.auth_kwargs() == {"auth_url": "https://keystone.example.com:5000/v3",
                                   "application_credential_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                                   "application_credential_secret": APP_SECRET}


def test_horizons_empty_value_conditional_unsets_only_empty_variables():
    text = ('export OS_REGION_NAME=""\nif [ -z "$OS_REGION_NAME" ]; then unset OS_REGION_NAME; fi\n'
            'export OS_INTERFACE="public"\nif [ -z "$OS_INTERFACE" ]; then unset OS_INTERFACE; fi\n')
    assert parse_openrc(text, "rc") == {"OS_INTERFACE": "public"}


def test_unset_removes_a_variable_set_earlier():
    assert parse_openrc("export OS_TENANT_NAME=old\nunset OS_TENANT_ID OS_TENANT_NAME\n", "rc") == {}


# ---------------------------------------------------------------- shell quoting, without a shell

QUOTING = [
    ("plain", "plain"),
    ("'two words'", "two words"),
    ('"two words"', "two words"),
    (r"two\ words", "two words"),
    (r'"say \"hi\" \\ \$ \`"', 'say "hi" \\ $ `'),
    (r'"keeps \' and \n"', r"keeps \' and \n"),
    ("'it'\"'\"'s'", "it's"),
    ("'$HOME and `x`'", "$HOME and `x`"),
    ("'a#b' # a comment", "a#b"),
    ("value#not-a-comment", "value#not-a-comment"),
    ('"x"   # trailing comment', "x"),
    ("costs$", "costs$"),
    ("", ""),
]


@pytest.mark.parametrize("written, meant", QUOTING)
def test_values_are_unquoted_as_a_shell_would(written, meant):
    assert parse_openrc(f"export OS_PASSWORD={written}\n", "rc") == {"OS_PASSWORD": meant}


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash to compare with")
def test_the_quoting_examples_agree_with_bash(tmp_path):
    script = "".join(f"export OS_V{i}={written}\n" for i, (written, _) in enumerate(QUOTING))
    path = write_private(tmp_path / "rc", script)
    printed = subprocess.run(
        ["bash", "-c", f'. "{path}"; for i in $(seq 0 {len(QUOTING) - 1}); do v="OS_V$i"; '
                       'printf "%s\\0" "${!v}"; done'],
        capture_output=True, text=True, check=True, env={}).stdout.split("\0")[:-1]
    assert printed == [meant for _, meant in QUOTING]


def shell_single_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


@settings(deadline=None, derandomize=True, max_examples=200)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=40))
def test_any_single_quoted_password_reads_back_unchanged(password):
    text = f"export OS_PASSWORD={shell_single_quote(password)}\n"
    assert parse_openrc(text, "rc") == {"OS_PASSWORD": password}


def test_assignments_without_export_comments_crlf_and_bom_are_read():
    text = "\ufeff# comment\r\n\r\nOS_USERNAME=alice\r\n   export   OS_REGION_NAME=r1\r\nexport OS_X\r\n"
    assert parse_openrc(text, "rc") == {"OS_USERNAME": "alice", "OS_REGION_NAME": "r1"}


def test_a_later_assignment_wins_as_in_a_shell():
    assert parse_openrc("OS_USERNAME=a\nOS_USERNAME=b\n", "rc") == {"OS_USERNAME": "b"}


BAD_LINES = [
    (f"export OS_PASSWORD=$(cat /root/{SECRET})", "expansion"),
    (f"export OS_PASSWORD=`cat {SECRET}`", "expansion"),
    (f'export OS_PASSWORD="{SECRET}$OTHER"', "expansion"),
    (f"export OS_PASSWORD={SECRET}${{OTHER}}", "expansion"),
    ("export OS_CACERT=~/ca.pem", "expansion"),
    ("export OS_USERNAME=$OS_PASSWORD_INPUT", "expansion"),
    (f"export OS_PASSWORD='{SECRET}", "quote"),
    (f'export OS_PASSWORD="{SECRET}', "quote"),
    (f"export OS_PASSWORD={SECRET} OS_USERNAME=alice", "unexpected text"),
    (f"export OS_PASSWORD={SECRET};rm -rf /", "shell operator"),
    (f"export PASSWORD={SECRET}", "not an OS_* variable"),
    ("source /root/other-openrc", "not an assignment"),
    ("if [ -f /etc/x ]; then", "conditional"),
    ("read OS_USERNAME", "reads input"),
    (f"export OS_PASSWORD={SECRET}\\", "next line"),
]


@pytest.mark.parametrize("line, why", BAD_LINES)
def test_bad_lines_are_refused_naming_file_and_line_but_not_the_value(line, why):
    err = raised(parse_openrc, f"# first\nexport OS_USERNAME=alice\n{line}\n", "/etc/x/credentials")
    assert str(err).startswith("/etc/x/credentials:3: ")
    assert why in str(err)
    assert err.fix


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("drop, named", [
    (("OS_AUTH_URL",), "OS_AUTH_URL"),
    (("OS_PASSWORD",), "OS_PASSWORD"),
    (("OS_USERNAME",), "OS_USERNAME or OS_USER_ID"),
    (("OS_PROJECT_NAME",), "OS_PROJECT_ID or OS_PROJECT_NAME"),
])
def test_a_missing_password_key_is_named_with_the_source(drop, named):
    variables = {k: v for k, v in PASSWORD_VARS.items() if k not in drop}
    err = raised(credentials_from_vars, variables, "/etc/nova-snapshot-hook/credentials")
    assert f"no {named}" in str(err)
    assert "/etc/nova-snapshot-hook/credentials" in str(err)


@pytest.mark.parametrize("variables, named", [
    ({"OS_AUTH_TYPE": "v3applicationcredential", "OS_APPLICATION_CREDENTIAL_ID": "id"},
     "OS_APPLICATION_CREDENTIAL_SECRET"),
    ({"OS_APPLICATION_CREDENTIAL_SECRET": APP_SECRET}, "OS_APPLICATION_CREDENTIAL_ID"),
    ({"OS_APPLICATION_CREDENTIAL_NAME": "backup", "OS_APPLICATION_CREDENTIAL_SECRET": APP_SECRET},
     "OS_USER_ID or OS_USERNAME"),
])
def test_a_missing_application_credential_key_is_named(variables, named):
    err = raised(credentials_from_vars, {"OS_AUTH_URL": "https://k/v3", **variables}, "f")
    assert named in str(err)


def test_an_empty_value_counts_as_missing():
    err = raised(credentials_from_vars, {**PASSWORD_VARS, "OS_PASSWORD": ""}, "f")
    assert "no OS_PASSWORD" in str(err)


def test_missing_key_in_the_environment_says_environment():
    err = raised(credentials_from_vars, {**PASSWORD_VARS, "OS_PASSWORD": ""}, "environment")
    assert "environment" in err.fix


def test_auth_type_is_inferred_from_application_credential_variables():
    assert credentials_from_vars(APPCRED_VARS, "f").auth_type == APPLICATION_CREDENTIAL
    assert credentials_from_vars(PASSWORD_VARS, "f").auth_type == PASSWORD


@pytest.mark.parametrize("written, meant", [
    ("password", PASSWORD), ("v3password", PASSWORD), ("V3Password", PASSWORD),
    ("applicationcredential", APPLICATION_CREDENTIAL), ("v3applicationcredential", APPLICATION_CREDENTIAL)])
def test_auth_type_names_of_the_clients_are_accepted(written, meant):
    variables = {**PASSWORD_VARS, **APPCRED_VARS, "OS_AUTH_TYPE": written}
    assert credentials_from_vars(variables, "f").auth_type == meant


def test_unsupported_auth_type_is_refused():
    err = raised(credentials_from_vars, {**PASSWORD_VARS, "OS_AUTH_TYPE": "v3token"}, "f")
    assert "OS_AUTH_TYPE" in str(err) and "v3token" in str(err)


def test_password_and_application_credential_without_auth_type_is_refused():
    err = raised(credentials_from_vars, {**PASSWORD_VARS, **APPCRED_VARS}, "f")
    assert "OS_AUTH_TYPE" in err.fix


@pytest.mark.parametrize("version", ["2", "2.0"])
def test_identity_api_version_2_is_refused(version):
    err = raised(credentials_from_vars, {**PASSWORD_VARS, "OS_IDENTITY_API_VERSION": version}, "f")
    assert "OS_IDENTITY_API_VERSION" in str(err)


@pytest.mark.parametrize("written, used", [
    ("https://k.example:5000/v3", "https://k.example:5000/v3"),
    ("https://k.example:5000/v3/", "https://k.example:5000/v3"),
    ("https://k.example:5000", "https://k.example:5000/v3"),
    ("https://k.example/identity/", "https://k.example/identity/v3"),
    ("http://127.0.0.1:5000/v3.14", "http://127.0.0.1:5000/v3.14"),
])
def test_auth_url_is_made_to_end_in_v3(written, used):
    assert credentials_from_vars({**PASSWORD_VARS, "OS_AUTH_URL": written}, "f").auth_url == used


@pytest.mark.parametrize("url", ["https://k.example:5000/v2.0", "keystone.example:5000/v3", "ftp://k/v3"])
def test_bad_auth_urls_are_refused(url):
    err = raised(credentials_from_vars, {**PASSWORD_VARS, "OS_AUTH_URL": url}, "f")
    assert "OS_AUTH_URL" in str(err)


@pytest.mark.parametrize("variables, interface", [
    ({}, "public"), ({"OS_INTERFACE": "internal"}, "internal"),
    ({"OS_ENDPOINT_TYPE": "publicURL"}, "public"), ({"OS_ENDPOINT_TYPE": "internalURL"}, "internal"),
    ({"OS_INTERFACE": "admin", "OS_ENDPOINT_TYPE": "publicURL"}, "admin")])
def test_interface_comes_from_os_interface_or_endpoint_type(variables, interface):
    assert credentials_from_vars({**PASSWORD_VARS, **variables}, "f").interface == interface


def test_an_unknown_interface_is_refused():
    err = raised(credentials_from_vars, {**PASSWORD_VARS, "OS_INTERFACE": "private"}, "f")
    assert "OS_INTERFACE" in str(err)


def test_tls_verification_is_on_unless_the_file_turns_it_off(tmp_path):
    ca = write_private(tmp_path / "ca.pem", "not really a CA\n", 0o644)
    assert credentials_from_vars(PASSWORD_VARS, "f").verify is True
    on = credentials_from_vars({**PASSWORD_VARS, "OS_CACERT": ca, "OS_INSECURE": "false"}, "f")
    assert (on.verify, on.cacert) == (True, ca)
    off = credentials_from_vars({**PASSWORD_VARS, "OS_CACERT": ca, "OS_INSECURE": "True"}, "f")
    assert (off.verify, off.cacert) == (False, None)


@pytest.mark.parametrize("variables, key", [
    ({"OS_INSECURE": "maybe"}, "OS_INSECURE"),
    ({"OS_CACERT": "ca.pem"}, "OS_CACERT"),
    ({"OS_CACERT": "/nonexistent/ca.pem"}, "OS_CACERT"),
    ({"OS_KEY": "/etc/hostname"}, "OS_CERT"),
])
def test_bad_tls_settings_are_refused_naming_the_key(variables, key):
    err = raised(credentials_from_vars, {**PASSWORD_VARS, **variables}, "f")
    assert key in str(err)


def test_client_certificate_and_key_are_kept(tmp_path):
    cert = write_private(tmp_path / "c.pem", "c")
    key = write_private(tmp_path / "k.pem", "k")
    creds = credentials_from_vars({**PASSWORD_VARS, "OS_CERT": cert, "OS_KEY": key}, "f")
    assert (creds.cert, creds.key) == (cert, key)


def test_project_and_user_named_without_domain_are_in_the_default_domain():
    kwargs = credentials_from_vars(PASSWORD_VARS, "f").auth_kwargs()
    assert kwargs["user_domain_id"] == "default" and kwargs["project_domain_id"] == "default"


def test_ids_are_sent_without_domains_or_names():
    variables = {**PASSWORD_VARS, "OS_USER_ID": "u1", "OS_PROJECT_ID": "p1", "OS_PROJECT_DOMAIN_NAME": "D"}
    kwargs = credentials_from_vars(variables, "f").auth_kwargs()
    assert kwargs == {"auth_url": PASSWORD_VARS["OS_AUTH_URL"], "user_id": "u1", "password": SECRET,
                      "project_id": "p1"}


def test_application_credential_by_name_names_its_user():
    variables = {"OS_AUTH_URL": "https://k/v3", "OS_APPLICATION_CREDENTIAL_NAME": "backup",
                 "OS_APPLICATION_CREDENTIAL_SECRET": APP_SECRET, "OS_USERNAME": "alice",
                 "OS_USER_DOMAIN_NAME": "Users", "OS_PROJECT_NAME": "ignored"}
    assert credentials_from_vars(variables, "f").auth_kwargs() == {
        "auth_url": "https://k/v3", "application_credential_name": "backup", "username": "alice",
        "user_domain_name": "Users", "application_credential_secret": APP_SECRET}


def test_legacy_tenant_name_is_taken_as_the_project():
    variables = {k: v for k, v in PASSWORD_VARS.items() if k != "OS_PROJECT_NAME"}
    creds = credentials_from_vars({**variables, "OS_TENANT_NAME": "demo"}, "f")
    assert creds.project_name == "demo"


def test_auth_kwargs_construct_keystoneauth_plugins():
    v3 = pytest.importorskip("keystoneauth1.identity.v3")
    plugin = v3.Password(**credentials_from_vars(PASSWORD_VARS, "f").auth_kwargs())
    assert plugin.auth_methods[0].password == SECRET
    plugin = v3.ApplicationCredential(**credentials_from_vars(APPCRED_VARS, "f").auth_kwargs())
    assert plugin.auth_methods[0].application_credential_secret == APP_SECRET


# ---------------------------------------------------------------- secrets never shown

def test_repr_and_str_mask_every_secret():
    both = credentials_from_vars({**PASSWORD_VARS, **APPCRED_VARS, "OS_AUTH_TYPE": "password"}, "f")
    for text in (repr(both), str(both), f"{both}", repr([both])):
        assert_no_secret(text)
        assert "password='***'" in text and "application_credential_secret='***'" in text
    assert "username='alice'" in repr(both)


def test_secrets_returns_the_values_a_log_filter_must_redact():
    both = credentials_from_vars({**PASSWORD_VARS, **APPCRED_VARS, "OS_AUTH_TYPE": "password"}, "f")
    assert set(both.secrets()) == {SECRET, APP_SECRET}
    assert credentials_from_vars(APPCRED_VARS, "f").secrets() == (APP_SECRET,)


def test_an_unset_secret_is_shown_as_none():
    assert "password=None" in repr(credentials_from_vars(APPCRED_VARS, "f"))


# ---------------------------------------------------------------- file safety

@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_credentials_file_open_to_group_or_others_is_refused(tmp_path, mode):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED, mode)
    err = raised(load_credentials, path, environ=NO_ENVIRONMENT)
    assert f"{path} has mode {mode:04o}" in str(err)
    assert err.fix == f"chmod 600 {path}"


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_credentials_file_private_to_its_owner_is_accepted(tmp_path, mode):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED, mode)
    assert load_credentials(path, environ=NO_ENVIRONMENT).password == SECRET


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_credentials_file_owned_by_another_user_is_refused_when_root(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED)
    os.chown(path, 65534, 65534)
    err = raised(load_credentials, path, environ=NO_ENVIRONMENT)
    assert "owned by" in str(err) and "65534" in str(err)
    assert err.fix == f"chown root:root {path}"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_user_running_by_hand_may_own_the_file_but_not_another_users(tmp_path):
    path = write_private(tmp_path / "credentials", "")
    os.chown(path, 1000, 1000)
    require_private(path, os.stat(path), euid=1000)
    raised(require_private, path, os.stat(path), euid=1001)
    raised(require_private, path, os.stat(path), euid=0)


def test_missing_credentials_file_is_its_own_clear_error(tmp_path):
    err = raised(load_credentials, str(tmp_path / "absent"), environ=PASSWORD_VARS)
    assert "does not exist" in str(err) and "install -m 600" in err.fix
    assert not isinstance(err, CredentialsNotConfigured)


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to an unprivileged user")
def test_unreadable_credentials_file_says_permission_denied(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED)
    code = ("from nova_snapshot_hook.cloud.credentials import load_credentials\n"
            "from nova_snapshot_hook.errors import CredentialsError\n"
            f"try: load_credentials({path!r}, environ={{}})\n"
            "except CredentialsError as err: print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], user=65534, group=65534, cwd="/",
                          env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "permission denied" in done.stdout and "root" in done.stdout
    assert_no_secret(done.stdout, done.stderr)


def test_a_directory_is_not_a_credentials_file(tmp_path):
    assert "not a regular file" in str(raised(load_credentials, str(tmp_path), environ=NO_ENVIRONMENT))


def test_non_utf8_credentials_file_is_refused(tmp_path):
    path = tmp_path / "credentials"
    path.write_bytes(b"export OS_USERNAME=\xff\xfe\n")
    os.chmod(path, 0o600)
    assert "UTF-8" in str(raised(load_credentials, str(path), environ=NO_ENVIRONMENT))


# ---------------------------------------------------------------- precedence (doc/decisions.md)

OTHER_CLOUD = {"OS_AUTH_URL": "https://other.example:5000/v3", "OS_USERNAME": "mallory",
               "OS_PASSWORD": "other-password", "OS_PROJECT_NAME": "other", "HOME": "/root"}
COMMENTS_ONLY = "# nothing configured yet\n\n"


def test_conffile_wins_over_the_environment(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED)
    creds = load_credentials(path, environ=OTHER_CLOUD)
    assert (creds.username, creds.source) == ("alice", path)


def test_environment_is_used_when_the_conffile_holds_only_comments(tmp_path):
    path = write_private(tmp_path / "credentials", COMMENTS_ONLY)
    creds = load_credentials(path, environ=OTHER_CLOUD)
    assert (creds.username, creds.source) == ("mallory", "environment")


def test_use_environment_prefers_the_environment_over_the_conffile(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED)
    assert load_credentials(path, environ=OTHER_CLOUD, use_environment=True).username == "mallory"


def test_use_environment_without_os_variables_is_an_error(tmp_path):
    path = write_private(tmp_path / "credentials", HORIZON_V3_FIXED)
    err = raised(load_credentials, path, environ={"HOME": "/root"}, use_environment=True)
    assert "OS_AUTH_URL" in str(err)


def test_nothing_configured_anywhere_raises_not_configured_naming_the_file(tmp_path):
    path = write_private(tmp_path / "credentials", COMMENTS_ONLY)
    with pytest.raises(CredentialsNotConfigured) as info:
        load_credentials(path, environ={"OS_REGION_NAME": "r1"})
    assert isinstance(info.value, CredentialsError)
    assert path in str(info.value) and info.value.fix == f"edit {path} (its comments show how)"


def test_incomplete_conffile_is_an_error_not_a_fallback_to_the_environment(tmp_path):
    path = write_private(tmp_path / "credentials", "export OS_REGION_NAME=r1\n")
    err = raised(load_credentials, path, environ=OTHER_CLOUD)
    assert "no OS_AUTH_URL" in str(err) and path in str(err)


def test_the_shipped_conffile_holds_no_credentials(tmp_path):
    shipped = REPO / "etc" / "nova-snapshot-hook" / "credentials"
    assert parse_openrc(shipped.read_text(), str(shipped)) == {}
    path = write_private(tmp_path / "credentials", shipped.read_text())
    with pytest.raises(CredentialsNotConfigured):
        load_credentials(path, environ=NO_ENVIRONMENT)


# ---------------------------------------------------------------- clouds.yaml

CLOUDS_WITH_PASSWORD = f"""\
clouds:
  mycloud:
    auth:
      auth_url: https://keystone.example.com:5000
      username: "alice"
      password: "{SECRET}"
      project_name: demo
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionTwo
    interface: internal
    verify: false
  other:
    auth:
      auth_url: https://other.example/v3
"""

CLOUDS_WITHOUT_SECRET = """\
clouds:
  mycloud:
    auth:
      auth_url: https://keystone.example.com:5000/v3
      application_credential_id: "0f1e2d3c"
    regions:
      - RegionThree
      - RegionFour
    interface: "public"
    identity_api_version: 3
    auth_type: "v3applicationcredential"
"""

SECURE_WITH_SECRET = f"""\
clouds:
  mycloud:
    auth:
      application_credential_secret: "{APP_SECRET}"
"""


def conffile_naming(tmp_path, clouds_path, cloud="mycloud"):
    return write_private(tmp_path / "credentials",
                         f"OS_CLOUD={cloud}\nexport OS_CLIENT_CONFIG_FILE='{clouds_path}'\n")


def test_clouds_yaml_named_in_the_conffile_gives_its_cloud(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    creds = load_credentials(conffile_naming(tmp_path, clouds), environ=NO_ENVIRONMENT)
    assert (creds.auth_type, creds.username, creds.password) == (PASSWORD, "alice", SECRET)
    assert (creds.region_name, creds.interface, creds.verify) == ("RegionTwo", "internal", False)
    assert creds.auth_url == "https://keystone.example.com:5000/v3"
    assert creds.source == f"clouds.yaml {clouds} cloud mycloud"


def test_secure_yaml_beside_clouds_yaml_supplies_the_secret(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITHOUT_SECRET, 0o644)  # no secret: may be public
    write_private(tmp_path / "secure.yaml", SECURE_WITH_SECRET)
    creds = load_credentials(conffile_naming(tmp_path, clouds), environ=NO_ENVIRONMENT)
    assert creds.auth_type == APPLICATION_CREDENTIAL
    assert creds.application_credential_secret == APP_SECRET
    assert creds.region_name == "RegionThree"          # the first listed region, as the clients do


def test_secure_yaml_open_to_others_is_refused(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITHOUT_SECRET, 0o644)
    secure = write_private(tmp_path / "secure.yaml", SECURE_WITH_SECRET, 0o644)
    err = raised(load_credentials, conffile_naming(tmp_path, clouds), environ=NO_ENVIRONMENT)
    assert err.fix == f"chmod 600 {secure}"


def test_clouds_yaml_holding_a_secret_open_to_others_is_refused(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD, 0o640)
    err = raised(load_credentials, conffile_naming(tmp_path, clouds), environ=NO_ENVIRONMENT)
    assert err.fix == f"chmod 600 {clouds}"


def test_clouds_yaml_is_found_through_the_search_list(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    conffile = write_private(tmp_path / "credentials", "export OS_CLOUD=mycloud\n")
    creds = load_credentials(conffile, environ=NO_ENVIRONMENT,
                             clouds_search=(str(tmp_path / "absent.yaml"), clouds))
    assert creds.source == f"clouds.yaml {clouds} cloud mycloud"


def test_no_clouds_yaml_anywhere_names_the_places_searched(tmp_path):
    conffile = write_private(tmp_path / "credentials", "export OS_CLOUD=mycloud\n")
    err = raised(load_credentials, conffile, environ=NO_ENVIRONMENT,
                 clouds_search=(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")))
    assert str(tmp_path / "a.yaml") in str(err) and str(tmp_path / "b.yaml") in str(err)


def test_a_missing_os_client_config_file_is_named(tmp_path):
    conffile = conffile_naming(tmp_path, tmp_path / "absent.yaml")
    err = raised(load_credentials, conffile, environ=NO_ENVIRONMENT)
    assert "OS_CLIENT_CONFIG_FILE" in str(err) and "absent.yaml" in str(err)


def test_an_unknown_cloud_name_lists_the_clouds_there_are(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    err = raised(load_credentials, conffile_naming(tmp_path, clouds, "nope"), environ=NO_ENVIRONMENT)
    assert "'nope'" in str(err) and "mycloud, other" in str(err)


def test_a_missing_key_in_clouds_yaml_is_named_as_clouds_yaml_spells_it(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    err = raised(load_credentials, conffile_naming(tmp_path, clouds, "other"), environ=NO_ENVIRONMENT)
    assert "auth.username" in str(err) and f"clouds.yaml {clouds} cloud other" in str(err)


def test_an_unsupported_auth_key_in_clouds_yaml_is_named(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", "clouds:\n  c:\n    auth:\n      token: abc\n")
    err = raised(load_credentials, conffile_naming(tmp_path, clouds, "c"), environ=NO_ENVIRONMENT)
    assert "auth.token" in str(err)


def test_invalid_yaml_gives_the_position_but_not_the_line(tmp_path):
    broken = f"clouds:\n  mycloud:\n    auth:\n      password: \"{SECRET}\n    bad: [\n"
    clouds = write_private(tmp_path / "clouds.yaml", broken)
    err = raised(load_credentials, conffile_naming(tmp_path, clouds), environ=NO_ENVIRONMENT)
    assert str(err).startswith(f"{clouds}:") and "not valid YAML" in str(err)


def test_conffile_mixing_os_cloud_with_other_settings_is_refused(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    conffile = write_private(tmp_path / "credentials",
                             f"OS_CLOUD=mycloud\nOS_CLIENT_CONFIG_FILE={clouds}\nOS_REGION_NAME=x\n")
    err = raised(load_credentials, conffile, environ=NO_ENVIRONMENT)
    assert "OS_REGION_NAME" in str(err)


def test_os_cloud_in_the_environment_is_used_when_the_conffile_is_empty(tmp_path):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    conffile = write_private(tmp_path / "credentials", COMMENTS_ONLY)
    environ = {"OS_CLOUD": "mycloud", "OS_CLIENT_CONFIG_FILE": clouds, "OS_IDENTITY_API_VERSION": "3"}
    assert load_credentials(conffile, environ=environ).username == "alice"


def run_python(code):
    done = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO)}, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_yaml_is_imported_only_when_a_clouds_yaml_is_used(tmp_path):
    openrc = write_private(tmp_path / "credentials", HORIZON_V3_FIXED)
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    cloudrc = write_private(tmp_path / "cloudrc", f"OS_CLOUD=mycloud\nOS_CLIENT_CONFIG_FILE={clouds}\n")
    check = ("import sys\nfrom nova_snapshot_hook.cloud.credentials import load_credentials\n"
             "load_credentials({!r}, environ={{}})\nprint('yaml' in sys.modules)\n")
    assert run_python(check.format(openrc)) == "False"
    assert run_python(check.format(cloudrc)) == "True"


def test_missing_yaml_parser_says_which_package_to_install(tmp_path, monkeypatch):
    clouds = write_private(tmp_path / "clouds.yaml", CLOUDS_WITH_PASSWORD)
    monkeypatch.setitem(sys.modules, "yaml", None)            # makes `import yaml` fail
    err = raised(load_credentials, conffile_naming(tmp_path, clouds), environ=NO_ENVIRONMENT)
    assert err.fix == "apt install python3-yaml"


def test_only_the_system_wide_clouds_yaml_is_searched_by_default():
    # ./clouds.yaml and ~/.config/openstack differ between apt, cron and sudo runs.
    assert creds_module.CLOUDS_SEARCH == ("/etc/openstack/clouds.yaml",)
