"""Access rules (issue 15): the rule builder, keystonemiddleware's matching, the comparison
`check` makes, and the proof that every request the commands make is allowed by the printed
rules: each command runs through the real CLI, keystoneauth and novaclient against a fake HTTP
backend that records every request."""

import json
import uuid

import pytest
import requests

from runners import call_cli
from nova_snapshot_hook.commands.access_rules import create_command
from nova_snapshot_hook.rules import access

SERVER = "11111111-2222-3333-4444-555555555555"
VOLUME = "0a0a0a0a-1111-4222-8333-444444444444"   # Cinder ids are UUIDs
PROJECT = "f" * 32
PREFIXED = [  # a cloud that serves each service under a path of one host
    {"type": "identity", "endpoints": [{"interface": "public", "region_id": "R", "region": "R",
                                        "url": "http://127.0.0.1:9/identity/v3"}]},
    {"type": "compute", "endpoints": [{"interface": "public", "region_id": "R", "region": "R",
                                       "url": "http://127.0.0.1:9/compute/v2.1"}]},
    {"type": "image", "endpoints": [{"interface": "public", "region_id": "R", "region": "R",
                                     "url": "http://127.0.0.1:9/image"}]},
    {"type": "volumev3", "endpoints": [{"interface": "public", "region_id": "R", "region": "R",
                                        "url": f"http://127.0.0.1:9/volume/v3/{PROJECT}"}]},
]


def situation(catalog=PREFIXED, rotation=False, volume_backed=False):
    return access.Situation(server_id=SERVER, rotation=rotation, volume_backed=volume_backed,
                            endpoints=access.pick_endpoints(catalog, "public", "R"))


# -- the builder --------------------------------------------------------------------------
def test_rules_keep_the_catalogs_path_prefixes_and_name_this_server():
    rules = access.rules_for([], situation())
    assert {"service": "compute", "method": "POST",
            "path": f"/compute/v2.1/servers/{SERVER}/action"} in rules
    assert {"service": "image", "method": "GET", "path": "/image/v2/images/*"} in rules
    assert all(SERVER in rule["path"] for rule in rules if "/servers" in rule["path"])


def test_an_image_backed_server_with_createbackup_gets_no_deletion_and_no_cinder():
    rules = access.rules_for([], situation())
    assert not [rule for rule in rules if rule["method"] == "DELETE"]
    assert not [rule for rule in rules if rule["service"] == "volumev3"]


def test_our_own_rotation_adds_image_deletion():
    rules = access.rules_for([], situation(rotation=True))
    assert {"service": "image", "method": "DELETE", "path": "/image/v2/images/*"} in rules


def test_a_volume_backed_server_gets_cinder_under_the_catalogs_own_type():
    rules = access.rules_for([], situation(rotation=True, volume_backed=True))
    volume = [rule for rule in rules if rule["service"] == "volumev3"]
    assert {rule["method"] for rule in volume} == {"GET", "POST", "DELETE"}
    assert {"service": "volumev3", "method": "DELETE",
            "path": f"/volume/v3/{PROJECT}/snapshots/*"} in volume
    both = PREFIXED + [{"type": "block-storage", "endpoints": [
        {"interface": "public", "region_id": "R", "url": "http://127.0.0.1:9/bs/v3"}]}]
    preferred = access.rules_for([], situation(both, rotation=True, volume_backed=True))
    assert {"service": "block-storage", "method": "GET", "path": "/bs/v3/limits"} in preferred


def test_for_widens_the_rules_and_nothing_is_repeated():
    base = access.rules_for([], situation())
    prune = access.rules_for(["prune"], situation())
    restore = access.rules_for(["restore"], situation())
    assert {"service": "image", "method": "DELETE", "path": "/image/v2/images/*"} in prune
    assert {"service": "volumev3", "method": "GET",
            "path": f"/volume/v3/{PROJECT}/snapshots/detail"} in prune
    assert {"service": "compute", "method": "POST", "path": "/compute/v2.1/servers"} in restore
    assert {"service": "compute", "method": "POST", "path": "/compute/v2.1/servers"} not in base
    assert access.rules_for(["list"], situation()) == base
    widest = access.rules_for(access.USES, situation(rotation=True, volume_backed=True))
    assert len(widest) == len({json.dumps(rule, sort_keys=True) for rule in widest})


def test_the_catalogs_interface_and_region_choose_the_endpoint():
    catalog = [{"type": "compute", "endpoints": [
        {"interface": "internal", "region_id": "R", "url": "http://127.0.0.1:9/internal/v2.1"},
        {"interface": "public", "region_id": "S", "url": "http://127.0.0.1:9/other/v2.1"},
        {"interface": "public", "region_id": "R", "url": "http://127.0.0.1:9/public/v2.1"}]}]
    assert access.pick_endpoints(catalog, "public", "R")["compute"][1].endswith("/public/v2.1")
    assert access.pick_endpoints(catalog, "internalURL", "R")["compute"][1].endswith(
        "/internal/v2.1")


# -- matching and comparison --------------------------------------------------------------------
@pytest.mark.parametrize("pattern, path, matches", [
    ("/v2/images/*", "/v2/images/abc", True),
    ("/v2/images/*", "/v2/images/abc/file", False),
    ("/v2/images/*", "/v2/images", False),
    ("/v2/images/**", "/v2/images/abc/file", True),
    ("/v2.1/servers/{id}", "/v2.1/servers/x", True),
    ("/v2.1/servers/s1", "/v2.1/servers/s2", False),
    ("/v2.1/servers/s1", "/x/v2.1/servers/s1", False),
])
def test_matching_is_keystonemiddlewares(pattern, path, matches):
    rule = {"service": "image", "method": "GET", "path": pattern}
    assert access.allows(rule, "image", "GET", path) is matches
    assert not access.allows(rule, "image", "POST", path)
    assert not access.allows(rule, "compute", "GET", path)


def test_compare_names_missing_rules_and_wide_ones():
    where = situation()
    needed = access.rules_for([], where)
    widest = access.rules_for(access.USES, where)
    assert access.compare(needed, needed, widest) == ([], [])
    missing, wide = access.compare(needed[1:], needed, widest)
    assert missing == [needed[0]] and wide == []
    any_server = {"service": "compute", "method": "DELETE", "path": "/compute/v2.1/servers/*"}
    missing, wide = access.compare(needed + [any_server], needed, widest)
    assert missing == [] and wide == [any_server]
    everything = {"service": "compute", "method": "GET", "path": "/compute/v2.1/**"}
    assert access.compare([rule for rule in needed if rule["service"] != "compute"]
                          + [everything], needed, widest)[1] == [everything]
    keystone_form = [dict(rule, id=uuid.uuid4().hex) for rule in needed]   # as tokens carry them
    assert access.compare(keystone_form, needed, widest) == ([], [])


def test_request_rule_finds_the_longest_endpoint_prefix():
    endpoints = situation().endpoints
    assert access.request_rule(endpoints, "post", "http://127.0.0.1:9/compute/v2.1/servers") == {
        "service": "compute", "method": "POST", "path": "/compute/v2.1/servers"}
    assert access.request_rule(endpoints, "GET", "http://127.0.0.1:8/compute/v2.1/servers") is None


def test_the_create_command_quotes_the_rules_for_the_shell():
    import shlex
    rules = access.rules_for([], situation())
    words = shlex.split(create_command(rules, "web 01"))
    assert words[:4] == ["openstack", "application", "credential", "create"]
    assert json.loads(words[words.index("--access-rules") + 1]) == rules
    assert words[-1] == "nova-snapshot-hook-web-01" and "--expiration" in words


def test_yaml_lists_every_rule():
    rules = access.rules_for([], situation())
    text = access.to_yaml(rules)
    assert text.count("- service: ") == len(rules)
    assert f'path: "/compute/v2.1/servers/{SERVER}/action"' in text


# -- every request is covered -----------------------------------------------------------------
class FakeCloud:
    """Just enough of Keystone, Nova, Glance and Cinder, on the prefixed catalog above."""

    def __init__(self, volume_backed):
        self.volume_backed = volume_backed
        self.requests = []
        self.images, self.snapshots = {}, {}
        self.rules = None               # what the token's application credential carries
        self.expires_at = None          # Keystone's record of it: None, it never expires
        self.password = False           # a token from a password: no application credential
        self.catalog = PREFIXED
        self.answers = {}               # (method, path) -> (status, body), before the rest

    def server(self):
        server = {"id": SERVER, "name": "web01", "status": "ACTIVE",
                  "OS-EXT-STS:task_state": None, "image": {"id": "base"},
                  "os-extended-volumes:volumes_attached": []}
        if self.volume_backed:
            server.update(image="", **{"os-extended-volumes:volumes_attached": [{"id": VOLUME}]})
        return server

    def send(self, request, *args, **kwargs):
        url = requests.utils.urlparse(request.url)
        self.requests.append((request.method, url.path))
        status, body, headers = self.answer(request.method, url.path, request.body)
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response.headers.update({"Content-Type": "application/json", **headers})
        response._content = json.dumps(body).encode() if body is not None else b""
        response.encoding = "utf-8"
        return response

    def answer(self, method, path, body):
        data = json.loads(body) if body else None
        compute, image, volume = "/compute/v2.1", "/image/v2", f"/volume/v3/{PROJECT}"
        if (method, path) in self.answers:
            return (*self.answers[method, path], {})
        server_path = f"{compute}/servers/{SERVER}"
        if (method, path) == ("POST", "/identity/v3/auth/tokens"):
            return 201, self.token(), {"X-Subject-Token": "fake-token"}
        if (method, path) == ("GET", "/identity/v3/users/u1/application_credentials/ac1"):
            return 200, {"application_credential": {
                "id": "ac1", "name": "nsh", "expires_at": self.expires_at, "unrestricted": False,
                "project_id": PROJECT, "roles": [{"id": "r1", "name": "member"}]}}, {}
        if (method, path) == ("GET", server_path):
            return 200, {"server": self.server()}, {}
        if (method, path) == ("POST", server_path + "/action"):
            return 202, {"image_id": self.new_image(data)}, {"x-openstack-request-id": "req-1"}
        if method == "GET" and path.startswith(server_path + "/os-instance-actions/"):
            return 200, {"instanceAction": {"action": "createBackup", "message": None}}, {}
        if (method, path) == ("GET", server_path + "/os-instance-actions"):
            return 200, {"instanceActions": []}, {}
        if (method, path) == ("GET", compute + "/limits"):
            return 200, {"limits": {"absolute": {"maxTotalInstances": 10,
                                                 "totalInstancesUsed": 1}, "rate": []}}, {}
        if (method, path) == ("GET", image + "/images"):
            return 200, {"images": list(self.images.values())}, {}
        if path.startswith(image + "/images/"):
            image_id = path.rsplit("/", 1)[1]
            if image_id not in self.images:
                return 404, {"message": "no such image"}, {}
            if method == "DELETE":
                del self.images[image_id]
                return 204, None, {}
            if method == "PATCH":
                for op in data:
                    if op["op"] == "remove":
                        self.images[image_id].pop(op["path"][1:], None)
                    else:
                        self.images[image_id][op["path"][1:]] = op["value"]
            return 200, self.images[image_id], {}
        if (method, path) == ("GET", image + "/info/usage"):
            return 200, {"usage": {"image_count_total": {"limit": 100, "usage": 3}}}, {}
        if (method, path) == ("GET", volume + "/snapshots/detail"):
            return 200, {"snapshots": list(self.snapshots.values())}, {}
        if method == "POST" and path.startswith(volume + "/snapshots/") and path.endswith(
                "/metadata"):
            snapshot = self.snapshots[path.split("/")[-2]]
            snapshot["metadata"].update(data["metadata"])
            return 200, {"metadata": snapshot["metadata"]}, {}
        if method == "DELETE" and path.startswith(volume + "/snapshots/"):
            self.snapshots.pop(path.rsplit("/", 1)[1], None)
            return 202, None, {}
        if (method, path) == ("GET", volume + "/volumes/" + VOLUME):
            return 200, {"volume": {"id": VOLUME, "size": 1, "attachments": [
                {"server_id": SERVER, "device": "/dev/vda"}]}}, {}
        if (method, path) == ("GET", volume + "/limits"):
            return 200, {"limits": {"absolute": {"maxTotalSnapshots": 50,
                                                 "totalSnapshotsUsed": 0}}}, {}
        return 404, {"message": f"the fake has no {method} {path}"}, {}

    def new_image(self, data):
        (action, body), = data.items()
        image_id = str(uuid.uuid4())
        image = {"id": image_id, "name": body["name"], "status": "active", "size": 6000,
                 "created_at": f"2026-12-01T10:{len(self.images):02d}:00Z",
                 "protected": False, **body["metadata"]}
        if action == "createBackup":
            image.update(instance_uuid=SERVER, image_type="backup",
                         backup_type=body["backup_type"])
        if self.volume_backed:
            snapshot_id = str(uuid.uuid4())
            self.snapshots[snapshot_id] = {"id": snapshot_id, "status": "available", "size": 1,
                                           "volume_id": VOLUME, "metadata": {}}
            image["block_device_mapping"] = json.dumps([{"snapshot_id": snapshot_id,
                                                         "boot_index": 0}])
        self.images[image_id] = image
        return image_id

    def token(self):
        token = {"methods": ["application_credential"], "expires_at": "2099-01-01T00:00:00Z",
                 "issued_at": "2026-12-01T00:00:00Z", "catalog": self.catalog,
                 "user": {"id": "u1", "name": "demo", "domain": {"id": "default"}},
                 "project": {"id": PROJECT, "name": "demo", "domain": {"id": "default"}},
                 "roles": [{"id": "r1", "name": "member"}],
                 "application_credential": {"id": "ac1", "name": "nsh", "restricted": True}}
        if self.rules is not None:
            token["application_credential"]["access_rules"] = self.rules
        if self.password:
            token["methods"] = ["password"]
            del token["application_credential"]
        return {"token": token}


@pytest.fixture
def fake(monkeypatch, tmp_path):
    def make(volume_backed=False, method="auto"):
        cloud = FakeCloud(volume_backed)
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", cloud.send)
        for key in ("OS_CLOUD", "OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("OS_AUTH_TYPE", "v3applicationcredential")
        monkeypatch.setenv("OS_AUTH_URL", "http://127.0.0.1:9/identity/v3")
        monkeypatch.setenv("OS_APPLICATION_CREDENTIAL_ID", "ac1")
        monkeypatch.setenv("OS_APPLICATION_CREDENTIAL_SECRET", "fake-secret")
        monkeypatch.setenv("OS_REGION_NAME", "R")
        monkeypatch.setenv("OS_INTERFACE", "public")
        monkeypatch.setenv("NOVA_SNAPSHOT_HOOK_ROOT", str(tmp_path / "host"))
        (tmp_path / "root").mkdir(exist_ok=True)
        settings = tmp_path / "nsh.conf"
        settings.write_text(f"[server]\nid = {SERVER}\nidentity_root = {tmp_path}/root\n"
                            f"metadata_url =\n[snapshot]\nmethod = {method}\nlock = "
                            f"{tmp_path}/lock\ntimeout = 30\npoll_interval = 0.01\n"
                            "[log]\nsyslog = no\n")
        where = access.Situation(SERVER, rotation=volume_backed or method == "image",
                                 volume_backed=volume_backed,
                                 endpoints=access.pick_endpoints(PREFIXED, "public", "R"))
        cloud.rules = [dict(rule, id="x") for rule in access.rules_for([], where)]

        def run(*argv):
            return call_cli("-c", settings, "--use-environment", *argv).returncode
        return cloud, where, run
    return make


def outside(cloud, rules):
    """The recorded requests no rule allows (the token request needs none)."""
    types = {name: service_type for name, (service_type, _) in
             access.pick_endpoints(PREFIXED, "public", "R").items()}
    by_prefix = {"/compute/": types["compute"], "/image/": types["image"],
                 "/volume/": types["volume"], "/identity/": types["identity"]}
    missed = []
    for method, path in cloud.requests:
        if path == "/identity/v3/auth/tokens":
            continue
        service = next((t for prefix, t in by_prefix.items() if path.startswith(prefix)), None)
        if not access.allowed(rules, service, method, path):
            missed.append((method, path))
    return missed


COMMANDS = [("snapshot", "manual", "2"), ("snapshot", "manual", "2"), ("snapshot", "manual", "2"),
            ("scheduled", "--no-delay", "--tier", "daily"), ("list",),
            ("status",), ("check",), ("access-rules",)]


@pytest.mark.parametrize("volume_backed, method", [(False, "auto"), (False, "image"),
                                                   (True, "auto")])
def test_every_request_of_the_credentials_commands_is_allowed_by_the_printed_rules(
        fake, capsys, volume_backed, method):
    cloud, where, run = fake(volume_backed, method)
    statuses = {}
    for argv in COMMANDS:
        statuses[argv] = run(*argv)
    statuses["show"] = run("show", next(iter(cloud.images)))
    out = capsys.readouterr().out
    # status's exit code tells freshness, check's includes this host's apt: their lines matter
    status_code, check_code = statuses.pop(("status",)), statuses.pop(("check",))
    assert set(statuses.values()) == {0}, (statuses, out)
    checks = [line for line in out.splitlines() if line.startswith(("OK:", "WARN:", "FAIL:",
                                                                    "SKIP:"))]
    # this host's apt hook: one line per finding, and 2 for a FAIL among them
    apt = [line for line in checks if line.split(": ")[1:2] == ["apt hook"]]
    assert len(apt) >= 1 and len(checks) - len(apt) == 14 and check_code in (0, 2)
    assert all(line.startswith("OK:") for line in checks if line not in apt
               and not line.startswith("WARN: quiesce:")), checks   # no agent on this fake image
    assert status_code in (0, 1, 2) and "access rules" not in out.replace(
        "OK: access rules:", "")
    rules = access.rules_for([], where)
    assert outside(cloud, rules) == []
    assert "OK: access rules: application credential nsh: " in out
    # check and status read the credential's expiry, within the rules
    assert "OK: credential expiry: application credential nsh (ac1) never expires" in out
    assert cloud.requests.count(("GET", "/identity/v3/users/u1/application_credentials/ac1")) == 2
    methods = {method for method, _ in cloud.requests}
    assert ("DELETE" in methods) is (volume_backed or method == "image")   # rotation really ran
    if volume_backed:
        assert any(path.endswith("/metadata") for _, path in cloud.requests)


def test_the_checker_catches_a_request_outside_the_rules(fake, capsys):
    cloud, where, run = fake()
    assert run("snapshot", "manual", "2") == 0
    trimmed = [rule for rule in access.rules_for([], where) if rule["path"] != "/image/v2/images/*"]
    assert outside(cloud, trimmed) and all(path.startswith("/image/v2/images/")
                                           for _, path in outside(cloud, trimmed))


def test_prune_and_restore_requests_are_allowed_by_their_widened_rules(fake, capsys):
    cloud, where, run = fake(method="image")
    for _ in range(3):
        assert run("snapshot", "manual", "3") == 0
    assert run("prune", "--keep", "1", "--delete") == 0
    image_id = next(iter(cloud.images))
    run("restore", image_id, "--rebuild", "--yes", "--no-wait")
    assert outside(cloud, access.rules_for(["prune", "restore"], where)) == []
    assert outside(cloud, access.rules_for([], where)) != []    # they did need more


def test_check_fails_naming_a_rule_the_credential_lacks(fake, capsys):
    cloud, where, run = fake()
    cloud.rules = [rule for rule in cloud.rules if not rule["path"].endswith("/limits")]
    assert run("check") == 2        # the credential is the user's to fix
    out = capsys.readouterr().out
    assert "FAIL: access rules: application credential nsh lacks 1 rule(s)" in out
    assert "compute GET /compute/v2.1/limits" in out


def test_check_warns_for_a_credential_without_rules(fake, capsys):
    cloud, _, run = fake()
    cloud.rules = None
    run("check")
    out = capsys.readouterr().out
    assert "WARN: access rules: application credential nsh has no access rules: whoever is " \
           "root on this VM can act on every server and image of project demo" in out


def test_the_notes_say_plainly_what_the_rules_still_allow():
    from nova_snapshot_hook.commands.access_rules import notes
    where = situation(rotation=True, volume_backed=True)
    text = "\n".join(notes(access.rules_for([], where), where, "demo"))
    for power in ("rescue", "console", "security groups", "visibility", "protection",
                  "delete ANY unprotected image", "ANY volume snapshot"):
        assert power in text
    plain = situation()
    text = "\n".join(notes(access.rules_for([], plain), plain, "demo"))
    assert "delete ANY" not in text and "snapshot" not in text
