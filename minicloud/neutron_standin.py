#!/usr/bin/python3
"""A stand-in for Neutron's API on 127.0.0.1, just enough for Nova.

Nova (Zed) has no network service of its own: even for a server booted with
networks='none' it lists ports (to fill in security_groups on GET /servers),
deallocates on delete and reads quotas. This answers those calls as a Neutron
with no resources at all would:

- GET of a collection (/v2.0/ports, /v2.0/networks, ...): an empty list;
- GET of one resource: 404 NotFound (nothing exists);
- quotas: unlimited (-1), nothing used;
- DELETE: 204;
- anything else (POST, PUT, PATCH): 501, so nobody believes it created a thing.

Usage: neutron_standin.py [PORT]   (binds 127.0.0.1 only)
"""

import http.server
import json
import sys

QUOTA_KEYS = ("network", "subnet", "port", "router", "floatingip",
              "security_group", "security_group_rule", "rbac_policy",
              "subnetpool", "trunk")

# Collections whose JSON key differs from the last path element.
COLLECTION_KEYS = {
    "security-groups": "security_groups",
    "security-group-rules": "security_group_rules",
    "address-scopes": "address_scopes",
    "qos/policies": "policies",
    "rbac-policies": "rbac_policies",
    "network-ip-availabilities": "network_ip_availabilities",
}

def versions_document(port):
    return {"versions": [{"id": "v2.0", "status": "CURRENT",
                          "links": [{"rel": "self",
                                     "href": "http://127.0.0.1:%d/v2.0/" % port}]}]}


def quota_document(path):
    if path.endswith("/details"):
        return {"quota": {k: {"limit": -1, "used": 0, "reserved": 0}
                          for k in QUOTA_KEYS}}
    return {"quota": {k: -1 for k in QUOTA_KEYS}}


def not_found(what):
    return 404, {"NeutronError": {"type": "NotFound", "detail": "",
                                  "message": "%s could not be found" % what}}


def answer_get(path, port=9696):
    """Return (status, body) for a GET of a path without query or .json."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return 200, versions_document(port)
    if parts[0] != "v2.0":
        return not_found(path)
    rest = parts[1:]
    if not rest:
        return 200, {"resources": []}
    if rest[0] == "quotas":
        if len(rest) == 1:
            return 200, {"quotas": []}
        return 200, quota_document(path)
    if rest[0] == "extensions" and len(rest) == 1:
        return 200, {"extensions": []}
    # Collections: /v2.0/<name> or /v2.0/<prefix>/<name> (qos/policies).
    joined = "/".join(rest)
    if joined in COLLECTION_KEYS:
        return 200, {COLLECTION_KEYS[joined]: []}
    if len(rest) == 1:
        return 200, {rest[0].replace("-", "_"): []}
    # /v2.0/<collection>/<id>: nothing exists.
    return not_found("%s %s" % (rest[0], rest[-1]))


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "minicloud-neutron-standin/1"
    protocol_version = "HTTP/1.1"

    def _path(self):
        path = self.path.split("?", 1)[0]
        if path.endswith(".json"):
            path = path[:-len(".json")]
        return path.rstrip("/") or "/"

    def _send(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Openstack-Request-Id",
                         "req-00000000-0000-0000-0000-000000000000")
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def do_GET(self):
        self._send(*answer_get(self._path(), self.server.server_port))

    def do_DELETE(self):
        self._drain()
        self._send(204)

    def _not_implemented(self):
        self._drain()
        self._send(501, {"NeutronError": {
            "type": "NotImplemented", "detail": "",
            "message": "minicloud's Neutron stand-in creates and changes nothing"}})

    do_POST = do_PUT = do_PATCH = _not_implemented

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 is short for a burst from Nova


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9696
    server = Server(("127.0.0.1", port), Handler)
    sys.stderr.write("neutron stand-in listening on 127.0.0.1:%d\n" % port)
    server.serve_forever()


if __name__ == "__main__":
    main()
