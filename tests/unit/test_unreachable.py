"""A cloud that cannot be reached is one line naming the host and port and the OS's reason, with
the key to fix where the credentials came from: real sockets on 127.0.0.1 through a real session
(cloud/session.py) and Cloud, no name ever sent to the host's resolver."""

import contextlib
import os
import socket

import pytest
from keystoneauth1 import exceptions as ksa, plugin, session as ksa_session
from requests import exceptions as requests_exc

from nova_snapshot_hook.cloud import client
from nova_snapshot_hook.cloud.credentials import credentials_from_clouds, credentials_from_vars
from nova_snapshot_hook.cloud.session import open_cloud
from nova_snapshot_hook.config import Settings
from nova_snapshot_hook.errors import CloudError

CREDENTIALS = "/etc/nova-snapshot-hook/credentials"


def free_port():
    """A loopback port nobody listens on: bound, read, closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def silent_server():
    """A loopback server whose kernel accepts connections that nobody ever answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch):
    """requests would send through a proxy the developer's shell names."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def no_resolver(monkeypatch):
    """Names under .invalid are unknown here, without asking the host's resolver."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def credentials(auth_url):
    return credentials_from_vars({"OS_AUTH_URL": auth_url, "OS_USERNAME": "u",
                                  "OS_PASSWORD": "Secret-Pw-123", "OS_PROJECT_NAME": "p"},
                                 CREDENTIALS)


def failure(creds, **settings):
    with pytest.raises(CloudError) as raised:
        open_cloud(creds, Settings(**{"api_timeout": 5.0, **settings}))
    text = str(raised.value)
    assert len(text.splitlines()) == 1 and "object at 0x" not in text and "Pool" not in text
    assert "Secret-Pw-123" not in text
    return raised.value


def test_a_port_nobody_listens_on_is_connection_refused_at_its_host_and_port():
    port = free_port()
    err = failure(credentials(f"http://127.0.0.1:{port}/v3"))
    assert err.message == f"authenticating: cannot reach 127.0.0.1:{port} (connection refused)"
    assert err.fix == (f"check OS_AUTH_URL in {CREDENTIALS}, the network, or [cloud] https_proxy "
                       "in the settings")


def test_a_name_nobody_knows_is_name_not_known_at_the_urls_port(no_resolver):
    err = failure(credentials("https://keystone.example.invalid/identity/v3"))
    assert err.message == "authenticating: cannot reach keystone.example.invalid:443 (name not known)"


def test_a_server_that_never_answers_timed_out_after_api_timeout():
    with silent_server() as port:
        err = failure(credentials(f"http://127.0.0.1:{port}/v3"), api_timeout=0.3)
    assert err.message == (f"authenticating: 127.0.0.1:{port} did not answer in time "
                           "(timed out after 0.3 s)")
    assert "[cloud] api_timeout" in err.fix


def test_a_connection_that_is_never_set_up_timed_out(monkeypatch):
    """A dropped SYN, as urllib3 meets it: its socket connect times out."""
    from urllib3.util import connection

    def dropped(*args, **kwargs):
        raise socket.timeout("timed out")
    monkeypatch.setattr(connection, "create_connection", dropped)
    port = free_port()
    err = failure(credentials(f"http://127.0.0.1:{port}/v3"))
    assert err.message == f"authenticating: cannot reach 127.0.0.1:{port} (timed out)"


def test_a_proxy_that_refuses_is_named_as_the_proxy_without_its_password(no_resolver):
    port = free_port()
    err = failure(credentials("https://keystone.example.invalid:5000/v3"),
                  https_proxy=f"http://proxy-user:Pr0xy-Pw@127.0.0.1:{port}")
    assert err.message == f"authenticating: cannot reach the proxy 127.0.0.1:{port} (connection refused)"
    assert "https_proxy" in err.fix and "Pr0xy-Pw" not in str(err)


def test_a_clouds_yaml_user_is_told_the_clouds_yaml_key(tmp_path):
    port = free_port()
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(f"clouds:\n  mycloud:\n    auth:\n      auth_url: http://127.0.0.1:{port}/v3\n"
                      "      username: u\n      password: Secret-Pw-123\n      project_name: p\n")
    os.chmod(clouds, 0o600)
    err = failure(credentials_from_clouds("mycloud", str(clouds)))
    assert err.fix == (f"check clouds.mycloud.auth.auth_url in {clouds}, the network, or "
                       "[cloud] https_proxy in the settings")
    assert "OS_AUTH_URL" not in str(err)


class Catalog(plugin.BaseAuthPlugin):
    """A token whose catalog names `endpoint` for every service."""

    def __init__(self, endpoint):
        super().__init__()
        self.endpoint = endpoint

    def get_token(self, session, **kwargs):
        return "the-token"

    def get_endpoint(self, session, **kwargs):
        return self.endpoint


def test_an_endpoint_of_the_catalog_is_named_as_the_catalogs(no_resolver):
    creds = credentials(f"http://127.0.0.1:{free_port()}/v3")
    cloud = client.Cloud(creds, ksa_session.Session(
        auth=Catalog("http://glance.internal.invalid:9292/image"), timeout=5))
    with pytest.raises(CloudError) as raised:
        cloud.get_image("img-1")
    assert raised.value.message == ("reading image img-1: cannot reach "
                                    "glance.internal.invalid:9292 (name not known)")
    assert raised.value.fix.startswith("the service catalog names glance.internal.invalid:9292")
    assert f"OS_INTERFACE in {CREDENTIALS}" in raised.value.fix


def test_a_long_cloud_message_is_cut_after_a_whole_word():
    cloud = client.Cloud(credentials("http://127.0.0.1:5000/v3"), ksa_session.Session())
    with pytest.raises(CloudError) as raised:
        with cloud.translated("listing images"):
            raise ksa.HttpError(message="quota exceeded " * 40, http_status=500)
    message = raised.value.message
    assert message.startswith("listing images: HTTP 500 quota exceeded")
    assert message.endswith(("quota...", "exceeded...")) and len(message) < 350


def test_a_failure_with_no_socket_error_behind_it_is_one_line_without_object_reprs():
    cloud = client.Cloud(credentials("http://127.0.0.1:5000/v3"), ksa_session.Session())
    text = "<urllib3.response.HTTPResponse object at 0x7f5e2c1d0>: too many redirects"
    with pytest.raises(CloudError) as raised:
        with cloud.translated("listing images"):
            try:
                raise requests_exc.TooManyRedirects(text)
            except requests_exc.RequestException as cause:
                raise ksa.UnknownConnectionError(
                    f"Unexpected exception for http://127.0.0.1:9292/v2/images: {text}", cause)
    assert raised.value.message == ("listing images: the request to the cloud failed (Unexpected "
                                    "exception for http://127.0.0.1:9292/v2/images: too many "
                                    "redirects)")
