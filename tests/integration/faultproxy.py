"""A loopback fault proxy between the tool and the local cloud, controlled by the tests.

The tool's OS_AUTH_URL points at the proxy; token responses get their catalog rewritten so that
every later request (Nova, Glance, Cinder) goes through the proxy too. A rule matches method and path
and answers with a status (and Retry-After), hangs, resets the connection, or forwards the
request and reports the image as `killed`, a given number of times; everything else is forwarded
unchanged. `redirect` points one service of the catalog elsewhere: a closed loopback port
(connection refused) or https:// on this plain-HTTP proxy (a TLS failure). Loopback only.
"""

import http.client
import json
import re
import socket
import threading
import time

from loopback_server import LoopbackServer, request_body, send

UPSTREAMS = {"identity": 5000, "compute": 8774, "image": 9292, "placement": 8778, "network": 9696,
             "block-storage": 8776}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer",
              "upgrade", "proxy-authenticate", "proxy-authorization"}


class Rule:
    def __init__(self, method, path, fault, times=1, retry_after=None):
        self.method, self.path = method, re.compile(path)
        self.fault, self.times, self.retry_after = fault, times, retry_after
        self.hits = 0

    def matches(self, method, path):
        return (self.times is None or self.hits < self.times) and \
            re.fullmatch(self.method, method) and self.path.search(path)


class FaultProxy(LoopbackServer):
    """start() and stop() it (loopback_server.py), or use it in a `with`."""

    def __init__(self):
        self.rules, self.log, self.lock = [], [], threading.Lock()
        self.redirects = {}         # service -> base URL in the catalog instead of this proxy
        super().__init__()

    @property
    def auth_url(self):
        return f"http://127.0.0.1:{self.port}/identity/v3"

    def add(self, method, path, fault, times=1, retry_after=None):
        with self.lock:
            rule = Rule(method, path, fault, times, retry_after)
            self.rules.append(rule)
            return rule

    def redirect(self, service, base):
        with self.lock:
            self.redirects[service] = base

    def clear(self):
        with self.lock:
            self.rules.clear()
            self.log.clear()
            self.redirects.clear()

    # -- one request ------------------------------------------------------------------------
    def handle(self, handler):
        body = request_body(handler)
        service, _, rest = handler.path.lstrip("/").partition("/")
        with self.lock:
            self.log.append((handler.command, handler.path))
            rule = next((r for r in self.rules if r.matches(handler.command, handler.path)), None)
            if rule:
                rule.hits += 1
        killed = rule is not None and rule.fault == "killed"      # forwarded, then rewritten
        if rule is not None and not killed:
            return self.inject(handler, rule)
        port = UPSTREAMS.get(service)
        if port is None:
            return self.answer(handler, 404, b'{"error": "no such service at the proxy"}')
        upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(handler.command, "/" + rest, body=body or None, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        if service == "identity" and rest.endswith("auth/tokens") and response.status < 300:
            data = self.rewrite_catalog(data)
        if killed and response.status == 200:               # as if Glance lost the upload
            data = json.dumps({**json.loads(data), "status": "killed"}).encode()
        extra = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        upstream.close()
        self.answer(handler, response.status, data, extra)

    def rewrite_catalog(self, data):
        token = json.loads(data)
        for service in token.get("token", {}).get("catalog", []):
            for endpoint in service.get("endpoints", []):
                for name, port in UPSTREAMS.items():
                    prefix = f"http://127.0.0.1:{port}"
                    if endpoint["url"].startswith(prefix):
                        base = self.redirects.get(name, f"http://127.0.0.1:{self.port}")
                        endpoint["url"] = f"{base}/{name}" + endpoint["url"][len(prefix):]
        return json.dumps(token).encode()

    def inject(self, handler, rule):
        if rule.fault == "hang":
            time.sleep(3600)
            return
        if rule.fault == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                          b"\x01\x00\x00\x00\x00\x00\x00\x00")
            handler.connection.close()
            handler.close_connection = True
            return
        status = int(rule.fault)
        message = {401: "The request you have made requires authentication.",
                   403: "Policy doesn't allow this.", 404: "Not found.",
                   409: "Cannot 'createBackup' instance while it is in task_state image_backup",
                   413: "Quota exceeded.", 429: "Rate limit exceeded.",
                   500: "Unexpected API Error.", 503: "Service Unavailable."}.get(status, "fault")
        body = json.dumps({"error": {"code": status, "message": message},
                           "conflictingRequest" if status == 409 else "computeFault":
                           {"code": status, "message": message}}).encode()
        headers = [("Retry-After", str(rule.retry_after))] if rule.retry_after is not None else []
        self.answer(handler, status, body, headers)

    @staticmethod
    def answer(handler, status, body, headers=()):
        send(handler, status, body,
             [*headers, ("Content-Type", "application/json"), ("Connection", "close")])
        handler.close_connection = True
