"""Hostile settings (issue 22).

Numbers: every duration is finite and bounded (an `inf` or `1e10` once passed the parser and
crashed signal.setitimer later), and so is every count.

[cloud] https_proxy and no_proxy: requests reads no_proxy only from the environment, so the
setting was ignored. Two loopback HTTP servers: a proxy that records what it is asked for (and
forwards nothing), and the target. Every packet stays on 127.0.0.1: a name is resolved by the
test itself, to 127.0.0.1 or not at all."""

import http.server
import math
import signal
import socket
import threading

import pytest

from nova_snapshot_hook.cloud import session as cloud_session
from nova_snapshot_hook.cloud.credentials import credentials_from_vars
from nova_snapshot_hook.config import TABLE, Settings, parse_settings
from nova_snapshot_hook.errors import ConfigError
from nova_snapshot_hook.log import redactor

DAY, WEEK, HOUR = 86400, 7 * 86400, 3600
# The largest value of each duration key; the test fails when a key is added without one.
DURATION_BOUNDS = {
    ("server", "metadata_timeout"): DAY,
    ("snapshot", "timeout"): DAY,
    ("snapshot", "poll_interval"): HOUR,
    ("cloud", "api_timeout"): DAY,
    ("apt", "wait"): DAY,
    ("apt", "min_interval"): WEEK,
    ("schedule", "max_delay"): DAY,
    ("schedule", "wait"): DAY,
    ("hooks", "timeout"): DAY,
}
COUNT_BOUNDS = {
    ("apt", "rotation"): 1000,
    ("schedule", "daily"): 1000,
    ("schedule", "weekly"): 1000,
    ("schedule", "monthly"): 1000,
    ("schedule", "yearly"): 1000,
}
DURATIONS = [key for key in TABLE if isinstance(key.default, float)]
COUNTS = [key for key in TABLE if type(key.default) is int]


def ids(key):
    return f"{key.section}.{key.name}"


def refused(key, text):
    with pytest.raises(ConfigError) as err:
        parse_settings(f"[{key.section}]\n{key.name} = {text}\n", "/etc/x.conf")
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    assert "/etc/x.conf" in message and f"[{key.section}] {key.name}" in message
    return message


def accepted(key, text):
    return getattr(parse_settings(f"[{key.section}]\n{key.name} = {text}\n", "x.conf"),
                   key.attribute)


def test_every_numeric_key_has_a_bound_here():
    assert {(k.section, k.name) for k in DURATIONS} == set(DURATION_BOUNDS)
    assert {(k.section, k.name) for k in COUNTS} == set(COUNT_BOUNDS)


@pytest.mark.parametrize("key", DURATIONS, ids=ids)
@pytest.mark.parametrize("text", ["inf", "Infinity", "+inf", "nan", "-nan", "1e10", "1e309"])
def test_a_duration_that_is_not_finite_or_huge_is_refused(key, text):
    message = refused(key, text)
    bound = DURATION_BOUNDS[(key.section, key.name)]
    assert f"at most {bound} seconds" in message


@pytest.mark.parametrize("key", DURATIONS, ids=ids)
def test_a_duration_at_its_bound_is_taken_and_just_above_refused(key):
    bound = DURATION_BOUNDS[(key.section, key.name)]
    assert accepted(key, str(bound)) == bound
    assert f"must be at most {bound} seconds" in refused(key, str(bound + 0.5))


@pytest.mark.parametrize("key", DURATIONS, ids=ids)
def test_the_longest_duration_still_arms_the_timer(key):
    """What the watchdog does with it (plus its grace): no OverflowError."""
    seconds = accepted(key, str(DURATION_BOUNDS[(key.section, key.name)]))
    assert math.isfinite(seconds)
    previous = signal.signal(signal.SIGALRM, lambda *a: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds + 5.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("key", DURATIONS, ids=ids)
def test_a_negative_infinity_is_refused_as_below_the_least(key):
    assert "must be" in refused(key, "-inf")


@pytest.mark.parametrize("key", COUNTS, ids=ids)
@pytest.mark.parametrize("text", ["1e10", "inf", "nan", "9" * 20, "9" * 5000],
                         ids=["1e10", "inf", "nan", "20-digits", "5000-digits"])
def test_a_huge_or_non_integer_count_is_refused(key, text):
    message = refused(key, text)
    assert "whole number" in message or "at most" in message
    assert len(message) < 300          # never the 5000 digits back


@pytest.mark.parametrize("key", COUNTS, ids=ids)
def test_a_count_at_its_bound_is_taken_and_one_more_refused(key):
    bound = COUNT_BOUNDS[(key.section, key.name)]
    assert accepted(key, str(bound)) == bound
    assert f"must be at most {bound}" in refused(key, str(bound + 1))


# -- [cloud] https_proxy and no_proxy ----------------------------------------------------------
class Recorder(http.server.ThreadingHTTPServer):
    """Answers every GET with its own name; keeps each request line it got."""

    def __init__(self, name):
        self.name, self.lines, self.proxy_auth = name, [], []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(handler):
                self.lines.append(handler.requestline)
                self.proxy_auth.append(handler.headers.get("Proxy-Authorization"))
                body = self.name.encode()
                handler.send_response(200)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):
                pass
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"


@pytest.fixture
def servers(monkeypatch):
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    real = socket.getaddrinfo

    def loopback_only(host, *args, **kwargs):
        # *.example names are this test's; anything else but 127.0.0.1 is refused, unsent
        if isinstance(host, str) and host.endswith(".example"):
            host = "127.0.0.1"
        if host != "127.0.0.1":
            raise socket.gaierror(f"the test resolves no {host}")
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    proxy, target = Recorder("proxy"), Recorder("target")
    for server in (proxy, target):
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield proxy, target
    for server in (proxy, target):
        server.shutdown()
        server.server_close()


def session(proxy_url, no_proxy=""):
    credentials = credentials_from_vars({"OS_AUTH_URL": "http://127.0.0.1:9/v3",
                                         "OS_USERNAME": "u", "OS_PASSWORD": "p4ssword",
                                         "OS_PROJECT_NAME": "p"}, "test")
    settings = Settings(https_proxy=proxy_url, no_proxy=no_proxy, api_timeout=10.0)
    return cloud_session.make_session(credentials, settings)


def fetch(made, url):
    return made.get(url, authenticated=False, raise_exc=False).text


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "10.0.0.0/8,127.0.0.1/32",
                                      "{port_entry}", " example.org  127.0.0.1 ", "*"])
def test_an_address_in_no_proxy_goes_direct(servers, no_proxy):
    proxy, target = servers
    no_proxy = no_proxy.format(port_entry=f"127.0.0.1:{target.port}")
    assert fetch(session(proxy.url, no_proxy), target.url + "/v3") == "target"
    assert proxy.lines == [] and target.lines == ["GET /v3 HTTP/1.1"]


@pytest.mark.parametrize("no_proxy", ["", "10.0.0.0/8", "127.0.0.2", "{other_port}",
                                      "cloud.example"])
def test_an_address_outside_no_proxy_goes_through_the_proxy(servers, no_proxy):
    proxy, target = servers
    no_proxy = no_proxy.format(other_port=f"127.0.0.1:{target.port + 1}")
    assert fetch(session(proxy.url, no_proxy), target.url + "/v3") == "proxy"
    assert proxy.lines == [f"GET {target.url}/v3 HTTP/1.1"] and target.lines == []


@pytest.mark.parametrize("no_proxy", ["cloud.example", ".cloud.example", "nova.cloud.example",
                                      "{host_port}", "other.example, cloud.example"])
def test_a_name_in_no_proxy_goes_direct(servers, no_proxy):
    proxy, target = servers
    url = f"http://nova.cloud.example:{target.port}/v2.1"
    no_proxy = no_proxy.format(host_port=f"nova.cloud.example:{target.port}")
    assert fetch(session(proxy.url, no_proxy), url) == "target"
    assert proxy.lines == [] and target.lines == ["GET /v2.1 HTTP/1.1"]


@pytest.mark.parametrize("no_proxy", ["other.example", "loud.example", "nova.cloud.example:1",
                                      "example.org"])
def test_a_name_outside_no_proxy_goes_through_the_proxy(servers, no_proxy):
    proxy, target = servers
    url = f"http://nova.cloud.example:{target.port}/v2.1"
    assert fetch(session(proxy.url, no_proxy), url) == "proxy"
    assert proxy.lines == [f"GET {url} HTTP/1.1"] and target.lines == []


def test_both_in_one_session(servers):
    proxy, target = servers
    made = session(proxy.url, "keystone.example")
    assert fetch(made, f"http://keystone.example:{target.port}/v3") == "target"
    assert fetch(made, f"http://nova.example:{target.port}/v2.1") == "proxy"
    assert len(proxy.lines) == 1 and len(target.lines) == 1


def test_the_default_port_counts_for_a_host_port_entry():
    assert cloud_session.bypasses_proxy("https://k.example/v3", "k.example:443")
    assert not cloud_session.bypasses_proxy("https://k.example/v3", "k.example:5000")
    assert cloud_session.bypasses_proxy("http://k.example/v3", "K.Example:80")


def test_the_proxy_password_is_masked_in_all_output_once_a_session_is_made(servers):
    proxy, target = servers
    url = f"http://nsh-proxy:Pr0xy%40pass@127.0.0.1:{proxy.port}"
    made = session(url)
    assert fetch(made, target.url + "/") == "proxy"
    sent = proxy.proxy_auth[0]
    text = f"cannot reach {url}: Proxy-Authorization {sent}; Pr0xy@pass"
    masked = redactor.mask(text)
    assert "Pr0xy" not in masked and sent.split()[-1] not in masked
    assert cloud_session.shown_proxy(url) == f"http://***@127.0.0.1:{proxy.port}"
    assert cloud_session.shown_proxy("http://127.0.0.1:3128") == "http://127.0.0.1:3128"


def test_a_proxy_user_without_password_is_shown_masked_but_masks_nothing_else():
    assert cloud_session.proxy_secrets("http://proxyuser@127.0.0.1:3128") == ()
    assert cloud_session.shown_proxy("http://proxyuser@127.0.0.1:3128") == \
        "http://***@127.0.0.1:3128"
    assert cloud_session.shown_proxy("nsh:Sch3me-less-pw@127.0.0.1:3128") == \
        "http://***@127.0.0.1:3128"
    assert redactor.mask("Sch3me-less-pw") == "***"
