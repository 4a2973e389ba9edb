"""HTTP 429 (and 413/503 with Retry-After) are waited out under keystoneauth (http_retry.py),
against a scripted HTTP server on 127.0.0.1."""

import json
import os
import sys
import time

import pytest
import requests

from nova_snapshot_hook.cloud import retry as http_retry

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))

from loopback_server import LoopbackServer, request_body, send  # noqa: E402


class Scripted(LoopbackServer):
    """Answers (status, headers) from a script, then 200; records each request's method."""

    poll_interval = 0.05

    def __init__(self, script):
        self.script, self.seen = list(script), []
        super().__init__()
        self.url += "/servers/x/action"

    def handle(self, handler):
        request_body(handler)
        self.seen.append((handler.command, time.monotonic()))
        status, headers = self.script.pop(0) if self.script else (200, {})
        send(handler, status, json.dumps({"status": status}).encode(),
             [*headers.items(), ("Content-Type", "application/json")])


@pytest.fixture
def scripted():
    made = []

    def make(*script):
        server = Scripted(script).start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def sleeps(monkeypatch):
    """The waits urllib3 would make, recorded instead of slept."""
    import urllib3.util.retry as retry_module
    recorded = []
    fake_time = type("FakeTime", (), {"sleep": staticmethod(recorded.append),
                                      "time": staticmethod(time.time)})
    monkeypatch.setattr(retry_module, "time", fake_time)
    return recorded


def session(**kwargs):
    http = requests.Session()
    http.trust_env = False
    return http_retry.mount(http, **kwargs)


def test_429_with_retry_after_is_sent_again_after_that_time(scripted):
    cloud = scripted((429, {"Retry-After": "1"}))
    started = time.monotonic()
    answer = session().post(cloud.url, json={"createBackup": {}})
    assert answer.status_code == 200
    assert [method for method, _ in cloud.seen] == ["POST", "POST"]
    assert cloud.seen[1][1] - cloud.seen[0][1] >= 0.95
    assert time.monotonic() - started < 3


def test_429_without_retry_after_waits_a_second_then_twice_as_long_each_time(scripted, sleeps):
    cloud = scripted(*[(429, {})] * 5)
    assert session().get(cloud.url).status_code == 200
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0] and len(cloud.seen) == 6


def test_413_or_503_with_retry_after_are_waited_out_too(scripted, sleeps):
    cloud = scripted((413, {"Retry-After": "2"}), (503, {"Retry-After": "3"}))
    assert session().get(cloud.url).status_code == 200
    assert sleeps == [2.0, 3.0] and len(cloud.seen) == 3


def test_413_without_retry_after_is_a_quota_and_comes_back_at_once(scripted):
    cloud = scripted((413, {}))
    assert session().post(cloud.url).status_code == 413
    assert len(cloud.seen) == 1


def test_a_long_retry_after_or_backoff_is_cut_to_the_cap(scripted, sleeps):
    cloud = scripted((429, {"Retry-After": "3600"}), *[(429, {})] * 8)
    assert session(retries=9).get(cloud.url).status_code == 200
    assert sleeps[0] == http_retry.MAX_WAIT and max(sleeps) == http_retry.MAX_WAIT


def test_an_unreadable_retry_after_falls_back_to_the_backoff(scripted, sleeps):
    cloud = scripted((429, {"Retry-After": "soon, please"}))
    assert session().get(cloud.url).status_code == 200
    assert sleeps == [1.0] and len(cloud.seen) == 2


def test_after_the_last_retry_the_429_goes_up_to_the_caller(scripted, sleeps):
    cloud = scripted(*[(429, {"Retry-After": "1"})] * 10)
    assert session(retries=2).get(cloud.url).status_code == 429
    assert len(cloud.seen) == 3 and sleeps == [1.0, 1.0]


def test_other_errors_are_not_retried(scripted):
    cloud = scripted((409, {"Retry-After": "1"}), (500, {}))
    assert session().post(cloud.url).status_code == 409
    assert session().post(cloud.url).status_code == 500
    assert len(cloud.seen) == 2


def test_a_refused_connection_is_not_retried():
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        session().post("http://127.0.0.1:9/servers/x/action")
    assert time.monotonic() - started < 1


def test_keystoneauth_sees_only_the_final_answer_and_raises_it_as_usual(scripted, sleeps):
    from keystoneauth1 import exceptions, session as ksa_session
    ok = scripted((429, {"Retry-After": "1"}))
    ksa = ksa_session.Session(session=session())
    assert ksa.post(ok.url, json={}, authenticated=False).status_code == 200
    limited = scripted(*[(429, {"Retry-After": "1"})] * 10)
    with pytest.raises(exceptions.HttpError) as raised:
        ksa_session.Session(session=session(retries=1)).get(limited.url, authenticated=False)
    assert raised.value.http_status == 429


def test_the_wait_is_logged(scripted, caplog, sleeps):
    import logging
    cloud = scripted((429, {"Retry-After": "1"}))
    logger = logging.getLogger("nova-snapshot-hook")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="nova-snapshot-hook"):
            session().get(cloud.url)
    finally:
        logger.removeHandler(caplog.handler)
    assert "The cloud asks to slow down (HTTP 429); sending the request again in 1.0 s." in \
        caplog.text


def test_the_cloud_session_carries_the_policy():
    from nova_snapshot_hook.cloud import session as cloud
    from nova_snapshot_hook.config import Settings
    credentials = type("C", (), {"cacert": None, "verify": True, "cert": None, "key": None,
                                 "auth_type": "v3password",
                                 "auth_kwargs": lambda self: {"auth_url": "http://127.0.0.1:9/v3",
                                                              "username": "u", "password": "p"}})()
    made = cloud.make_session(credentials, Settings())
    adapter = made.session.get_adapter("http://127.0.0.1:8774/v2.1/servers")
    assert isinstance(adapter.max_retries, http_retry.RateLimitRetry)
