"""A threaded HTTP/1.1 server on 127.0.0.1, on a free port, for the tests' stand-ins: the fault
proxy (faultproxy.py), the counting forward proxy (loopback_proxy.py) and the scripted cloud of
tests/unit/test_http_retry.py. A subclass answers every request, whatever its method, in
handle(handler), where `handler` is the request's http.server.BaseHTTPRequestHandler; send()
writes an answer. Standard library only; its users import it as a sibling module.

    class Stub(LoopbackServer):
        def handle(self, handler):
            send(handler, 200, b"{}", [("Content-Type", "application/json")])

    stub = Stub().start()       # or `with Stub() as stub:`
    ... stub.url ...
    stub.stop()
"""

import http.server
import threading


class LoopbackServer:
    poll_interval = 0.5         # how long stop() may wait for the serving thread to notice

    def __init__(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def any_method(self):
                owner.handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = any_method

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       args=(self.poll_interval,), daemon=True)

    def handle(self, handler):
        raise NotImplementedError

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def request_body(handler):
    """The request's body as its Content-Length says (b"" when it has none)."""
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def send(handler, status, body, headers=()):
    """Answer with `status`, the (key, value) `headers`, a Content-Length and `body` (not sent
    for HEAD)."""
    handler.send_response(status)
    for key, value in headers:
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)
