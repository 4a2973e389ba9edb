"""Deleting a backup safely against the local cloud (issue 22, items 3 and 8).

A volume-backed backup's image whose block_device_mapping someone with image PATCH extended with
`../volumes/<a volume>` and with the id of a snapshot of an unrelated volume: rotation and
`prune --delete` delete the backup and its own snapshot, and neither the volume nor the other
snapshot. A listing whose next-page link names another host is not followed, so the token never
goes there: a Cinder or Glance page rewritten by the proxy points at a loopback recorder.
"""

import http.client
import http.server
import json
import threading
import time

import pytest

from cloud_fixtures import through
from faultproxy import HOP_BY_HOP, UPSTREAMS, FaultProxy
from test_volume_backed_cloud import SERIES, bfv, cinder, lines, snapshot

__all__ = ["bfv", "cinder"]  # fixtures pytest finds here by name (pyflakes: used)

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
SNAPSHOT_LIST = r"^/block-storage/v3/(\w+/)?snapshots/detail"
IMAGE_LIST = r"^/image/v2/images(\?|$)"


def wait_status(get, wanted, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = get()
        if found is not None and found.get("status") in wanted:
            return found
        time.sleep(0.3)
    raise AssertionError(f"not {wanted} in time: {found}")


@pytest.fixture
def unrelated(cinder):
    """Two volumes of the project attached to nothing: `target`, for the planted path, and
    `other` with a snapshot of it, `snapshot`: neither has anything to do with the server."""
    made = {}

    def volume(name):
        created = cinder.api.post("/volumes", json={"volume": {"size": 1, "name": name}}).json()
        return wait_status(lambda: cinder.api.get(f"/volumes/{created['volume']['id']}").json()[
            "volume"], ("available",))["id"]

    def gone(path):
        answer = cinder.api.get(path, raise_exc=False)
        return None if answer.status_code == 404 else {"status": "still there"}

    made["target"], made["other"] = volume("nsh-test-target"), volume("nsh-test-other")
    snap = cinder.api.post("/snapshots", json={"snapshot": {
        "volume_id": made["other"], "name": "nsh-test-unrelated"}}).json()["snapshot"]
    made["snapshot"] = wait_status(lambda: cinder.api.get(f"/snapshots/{snap['id']}").json()[
        "snapshot"], ("available",))["id"]
    yield made
    cinder.delete_snapshot(made["snapshot"])
    end = time.monotonic() + 60
    while time.monotonic() < end and gone(f"/snapshots/{made['snapshot']}") is not None:
        time.sleep(0.3)
    for key in ("target", "other"):
        cinder.api.delete(f"/volumes/{made[key]}", raise_exc=False)


def plant(admin, image_id, *snapshot_ids):
    """What anyone with image PATCH can do: more entries in the image's mapping."""
    image = admin.glance.get(f"/v2/images/{image_id}").json()
    mapping = json.loads(image["block_device_mapping"])
    mapping += [{"source_type": "snapshot", "destination_type": "volume", "snapshot_id": sid,
                 "volume_size": 1, "boot_index": None} for sid in snapshot_ids]
    admin.glance.patch(f"/v2/images/{image_id}", headers={"Content-Type": PATCH_TYPE}, json=[
        {"op": "replace", "path": "/block_device_mapping", "value": json.dumps(mapping)}])
    return [entry["snapshot_id"] for entry in mapping[:-len(snapshot_ids)]]


def check_untouched(cinder, unrelated):
    volume = cinder.api.get(f"/volumes/{unrelated['target']}", raise_exc=False)
    assert volume.status_code == 200 and volume.json()["volume"]["status"] == "available"
    snap = cinder.api.get(f"/snapshots/{unrelated['snapshot']}", raise_exc=False)
    assert snap.status_code == 200 and snap.json()["snapshot"]["status"] == "available"


def check_warned(result, image_id, unrelated):
    warnings = lines(result, "WARNING")
    planted = [w for w in warnings if f"../volumes/{unrelated['target']}" in w]
    foreign = [w for w in warnings if unrelated["snapshot"] in w]
    assert len(planted) == 1 and image_id in planted[0], result.stderr
    assert len(foreign) == 1 and image_id in foreign[0] and unrelated["other"] in foreign[0], \
        result.stderr


def test_rotation_deletes_the_backup_but_not_a_planted_volume_or_snapshot(bfv, admin, cinder,
                                                                         unrelated):
    first = snapshot(bfv, rotation=1)["image_id"]
    own = plant(admin, first, f"../volumes/{unrelated['target']}", unrelated["snapshot"])
    second = bfv("snapshot", SERIES, "1", "--json")
    assert second.returncode == 0, second.stderr
    assert [i["id"] for i in admin.images(nsh_server=bfv.server)] == \
        [json.loads(second.stdout)["image_id"]]
    left = {s["id"] for s in cinder.wait_settled(bfv.volume)}
    assert not set(own) & left and bfv.foreign in left            # its own snapshot went
    check_untouched(cinder, unrelated)
    check_warned(second, first, unrelated)


def test_prune_deletes_the_backup_but_not_a_planted_volume_or_snapshot(bfv, admin, cinder,
                                                                      unrelated):
    first = snapshot(bfv)["image_id"]
    kept = snapshot(bfv)["image_id"]
    own = plant(admin, first, f"../volumes/{unrelated['target']}", unrelated["snapshot"])
    result = bfv("prune", "--series", SERIES, "--keep", "1", "--delete")
    assert result.returncode == 0, result.stderr
    assert [i["id"] for i in admin.images(nsh_server=bfv.server)] == [kept]
    left = {s["id"] for s in cinder.wait_settled(bfv.volume)}
    assert not set(own) & left
    check_untouched(cinder, unrelated)
    check_warned(result, first, unrelated)


def test_cinders_own_page_links_are_on_its_catalog_endpoint(cinder, unrelated):
    """The check of item 8 keeps real pagination working: Cinder's links, asked for pages of
    one, stay on the endpoint the catalog names."""
    from nova_snapshot_hook.cloud.client import page_link
    extra = cinder.api.post("/snapshots", json={"snapshot": {
        "volume_id": unrelated["other"], "name": "nsh-test-page"}}).json()["snapshot"]["id"]
    try:
        page = cinder.api.get("/snapshots/detail", params={"limit": 1}).json()
        links = [link["href"] for link in page.get("snapshots_links", []) if link["rel"] == "next"]
        assert links and page_link(links[0], cinder.api.get_endpoint()) == links[0], links
    finally:
        wait_status(lambda: cinder.api.get(f"/snapshots/{extra}").json()["snapshot"],
                    ("available", "error"))
        cinder.delete_snapshot(extra)
        end = time.monotonic() + 60
        while time.monotonic() < end and cinder.api.get(f"/snapshots/{extra}",
                                                        raise_exc=False).status_code != 404:
            time.sleep(0.3)


# -- item 8: a next-page link to elsewhere ----------------------------------------------------
class Recorder:
    """A loopback server standing for another host: records each request and its token."""

    def __init__(self):
        self.requests = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                recorder.requests.append((self.path, "X-Auth-Token" in self.headers))
                body = b'{"snapshots": [], "images": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class LinkProxy(FaultProxy):
    """The fault proxy with one more fault, `next-elsewhere`: the listing is forwarded, and its
    next-page link (Cinder's snapshots_links, Glance's next) rewritten to the recorder."""

    def __init__(self, elsewhere):
        super().__init__()
        self.elsewhere = elsewhere

    def inject(self, handler, rule):
        if rule.fault != "next-elsewhere":
            return super().inject(handler, rule)
        service, _, rest = handler.path.lstrip("/").partition("/")
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAMS[service], timeout=60)
        upstream.request("GET", "/" + rest, headers={
            k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP})
        response = upstream.getresponse()
        page = json.loads(response.read())
        upstream.close()
        href = f"{self.elsewhere}/{service}/{rest.partition('?')[0]}?marker=planted"
        if "snapshots" in page:
            page["snapshots_links"] = [{"rel": "next", "href": href}]
        else:
            page["next"] = href
        self.answer(handler, response.status, json.dumps(page).encode())


@pytest.fixture
def elsewhere(tool):
    recorder = Recorder()
    proxy = LinkProxy(recorder.url).start()
    through(proxy, tool)
    tool.settings.write_text(tool.settings.read_text().replace(
        "[snapshot]\n", "[cloud]\napi_timeout = 10\n[snapshot]\n"))
    yield tool, proxy, recorder
    proxy.stop()
    recorder.stop()


def test_a_cinder_page_link_to_another_host_is_not_followed(elsewhere):
    tool, proxy, recorder = elsewhere
    rule = proxy.add("GET", SNAPSHOT_LIST, "next-elsewhere", times=None)
    result = tool("prune")
    assert rule.hits >= 1, proxy.log
    assert recorder.requests == []                  # nothing, and so no token, went there
    assert result.returncode == 0, result.stderr
    warnings = lines(result, "WARNING")
    assert len(warnings) == 1 and "Cinder's next-page link" in warnings[0] and \
        recorder.url in warnings[0], result.stderr


def test_a_glance_next_to_another_host_is_not_followed(elsewhere):
    tool, proxy, recorder = elsewhere
    rule = proxy.add("GET", IMAGE_LIST, "next-elsewhere", times=None)
    result = tool("list")
    assert rule.hits >= 1, proxy.log
    assert recorder.requests == []
    assert result.returncode == 1
    errors = lines(result, "ERROR")
    assert len(errors) == 1 and "Glance's next-page link" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
