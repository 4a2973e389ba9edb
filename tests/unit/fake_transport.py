"""A real cloud.Cloud over a faked HTTP transport: what the tool really sends (method, URL,
headers, JSON body) and what it makes of an answer, with no server. For the request shapes and
the URL guards; tests/fake_cloud.py is the stand-in for everything above the HTTP."""

import json
import types

import requests
from keystoneauth1 import plugin, session as ksa_session

from nova_snapshot_hook.cloud import client

NOVA = "http://127.0.0.1:8774/v2.1"
GLANCE = "http://127.0.0.1:9292/image"
CINDER = "http://127.0.0.1:8776/volume/v3/project"


class Catalog(plugin.BaseAuthPlugin):
    def get_token(self, session, **kwargs):
        return "the-token"

    def get_endpoint(self, session, service_type=None, **kwargs):
        return {"compute": NOVA, "image": GLANCE, "block-storage": CINDER,
                "volumev3": CINDER}.get(service_type)


class Transport(requests.adapters.BaseAdapter):
    """Answers from `pages` {url without query: [answers, one per request, the last kept]},
    an answer being a body (200), None (404 to a GET, else 202 and {}), or (status, body).
    Records every request as (method, url, whether it carried the token) in `sent`, and
    whole in `requests`."""

    def __init__(self, pages):
        super().__init__()
        self.pages, self.sent, self.requests = pages, [], []

    def send(self, request, **kwargs):
        url = request.url.partition("?")[0]
        self.sent.append((request.method, request.url, "X-Auth-Token" in request.headers))
        self.requests.append(request)
        answers = self.pages.get(url) or [None]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, tuple):
            status, body = answer
        else:
            status = 404 if answer is None and request.method == "GET" else (
                202 if answer is None else 200)
            body = answer if answer is not None else {}
        response = requests.Response()
        response.status_code = status
        response.url, response.request = request.url, request
        response.headers["Content-Type"] = "application/json"
        response.headers["x-openstack-request-id"] = f"req-{len(self.sent)}"
        response._content = json.dumps(body).encode()
        return response

    def close(self):
        pass


def cloud_over(pages):
    """(a cloud.Cloud whose every request goes to a Transport of `pages`, the transport)."""
    transport = Transport(pages)
    sess = ksa_session.Session(auth=Catalog())
    sess.session.mount("http://", transport)
    sess.session.mount("https://", transport)
    credentials = types.SimpleNamespace(region_name="", interface="public", source="test",
                                        auth_url="http://127.0.0.1:5000/v3", auth_type="password")
    return client.Cloud(credentials, sess), transport
