"""A forward HTTP proxy on 127.0.0.1 that counts requests and can answer some of them itself.

For the benchmarks (HTTP requests per snapshot, of our tool and of the nova CLI) and the fleet
tests (HTTP 429 with Retry-After, 409, and when each request arrived). Clients reach it as an
HTTP proxy: our tool through `[cloud] https_proxy = http://127.0.0.1:PORT`, other programs
through `http_proxy`. Unlike faultproxy.py, which stands in for Keystone and rewrites the catalog,
a forward proxy sees every request whatever URL it goes to: the nova CLI's version discovery
sends its token request to the URL Keystone's version document names, past a rewritten catalog.
It forwards only to 127.0.0.1/localhost (anything else gets 403), plain HTTP only, one upstream
connection per request, and keeps the client's connection open. Standard library only.

    with LoopbackProxy() as proxy:
        proxy.inject("POST", r"/action$", 429, {"Retry-After": "1"}, times=1)
        ... run the client with proxy.url ...
        proxy.requests   # [(method, "host:port", path, status, injected), ...]
"""

import http.client
import re
import threading
import time
from urllib.parse import urlsplit

from loopback_server import LoopbackServer, request_body, send

LOOPBACK = ("127.0.0.1", "localhost")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
              "proxy-authenticate", "te", "trailers", "transfer-encoding", "upgrade"}


class _Rule:
    def __init__(self, method, path, status, headers, times, body):
        self.method, self.path = method, re.compile(path)
        self.status, self.headers, self.left, self.body = status, dict(headers or {}), times, body


class LoopbackProxy(LoopbackServer):
    """Use it in a `with` (or start() and stop() it: loopback_server.py)."""

    def __init__(self):
        self.requests = []
        self._rules = []
        self._lock = threading.Lock()
        super().__init__()

    # -- what the tests and benchmarks use ----------------------------------------------------
    def inject(self, method, path, status, headers=None, times=1, body=b""):
        """Answer the next `times` requests matching method and path (a regex) with `status`."""
        with self._lock:
            self._rules.append(_Rule(method, path, status, headers, times, body))

    def reset(self):
        with self._lock:
            self.requests = []

    def count(self, method=None, path=None, injected=None):
        pattern = re.compile(path) if path else None
        return sum(1 for m, _, p, _, i, _ in self.requests
                   if (method is None or m == method) and (pattern is None or pattern.search(p))
                   and (injected is None or i == injected))

    def times(self, method, path):
        """Arrival times (time.monotonic()) of the requests that match."""
        pattern = re.compile(path)
        return [t for m, _, p, _, _, t in self.requests if m == method and pattern.search(p)]

    # -- the proxy ----------------------------------------------------------------------------
    def _rule_for(self, method, path):
        with self._lock:
            for rule in self._rules:
                if rule.left > 0 and rule.method == method and rule.path.search(path):
                    rule.left -= 1
                    return rule
        return None

    def _record(self, method, where, path, status, injected, arrived):
        with self._lock:
            self.requests.append((method, where, path, status, injected, arrived))

    def handle(self, handler):
        arrived = time.monotonic()
        target = urlsplit(handler.path)
        body = request_body(handler) or None
        path = target.path + (f"?{target.query}" if target.query else "")
        where = f"{target.hostname}:{target.port or 80}"
        if target.scheme != "http" or target.hostname not in LOOPBACK:
            self._record(handler.command, where, path, 403, True, arrived)
            return self._answer(handler, 403, {}, b"loopback only\n")
        rule = self._rule_for(handler.command, target.path)
        if rule:
            self._record(handler.command, where, path, rule.status, True, arrived)
            return self._answer(handler, rule.status, rule.headers, rule.body)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=120)
        try:
            upstream.request(handler.command, path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            answer = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
            status = response.status
        finally:
            upstream.close()
        self._record(handler.command, where, path, status, False, arrived)
        self._answer(handler, status, answer, data)

    @staticmethod
    def _answer(handler, status, headers, data):
        send(handler, status, data, [(key, value) for key, value in headers.items()
                                     if key.lower() not in ("content-length", "server", "date")])
