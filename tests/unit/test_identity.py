"""Which server am I: each source in a fixture root, their order, and agreement with the settings.

The metadata service is only ever a loopback http.server: a guard below fails any test that tries to
connect anywhere but 127.0.0.1.
"""

import contextlib
import http.server
import json
import logging
import os
import socket
import threading
import time

import pytest

from nova_snapshot_hook.cloud import identity
from nova_snapshot_hook.errors import IdentityError
from nova_snapshot_hook.cloud.identity import detect_server_id, normalize_uuid, resolve_server_id

CLOUD_INIT_ID = "11111111-2222-4333-8444-555555555555"
DRIVE_ID = "22222222-3333-4444-8555-666666666666"
DMI_ID = "33333333-4444-4555-8666-777777777777"
SERVICE_ID = "44444444-5555-4666-8777-888888888888"
NO_METADATA = ""


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch):
    """Tests never send a packet to 169.254.169.254 or any other non-loopback address."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"test tried to connect to {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def write(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def with_cloud_init(root, instance_id=CLOUD_INIT_ID):
    write(root, identity.CLOUD_INIT_DATA, json.dumps({"v1": {"instance_id": instance_id, "cloud_name": "x"}}))


def with_config_drive(root, uuid=DRIVE_ID, place=identity.CONFIG_DRIVE_DIRS[0]):
    write(root, f"{place}/{identity.CONFIG_DRIVE_FILE}", json.dumps({"uuid": uuid, "name": "vm"}))


def with_dmi(root, uuid=DMI_ID):
    write(root, identity.DMI_PRODUCT_UUID, uuid + "\n")


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True    # do not wait for the deliberately slow handler when the test ends

    def handle_error(self, request, client_address):
        pass             # the client hanging up on a slow answer is expected in the timeout test


@contextlib.contextmanager
def metadata_service(body=None, status=200, delay=0.0):
    """A loopback metadata service on an ephemeral port; yields (url, list of paths requested)."""
    body = json.dumps({"uuid": SERVICE_ID}).encode() if body is None else body
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/openstack/latest/meta_data.json", hits
    finally:
        server.shutdown()
        server.server_close()


def closed_loopback_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/openstack/latest/meta_data.json"


# ---------------------------------------------------------------- UUIDs

@pytest.mark.parametrize("written", [
    CLOUD_INIT_ID, CLOUD_INIT_ID.upper(), f"  {CLOUD_INIT_ID}\n", "{" + CLOUD_INIT_ID + "}",
    CLOUD_INIT_ID.replace("-", "")])
def test_uuids_are_normalised_to_lowercase_canonical_form(written):
    assert normalize_uuid(written) == CLOUD_INIT_ID


@pytest.mark.parametrize("written", [
    "", None, "iid-datasource-none", "i-0000abcd", "Not Settable", CLOUD_INIT_ID + "0",
    "00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
    "g1111111-2222-4333-8444-555555555555"])
def test_invalid_and_placeholder_uuids_are_rejected(written):
    assert normalize_uuid(written) is None


# ---------------------------------------------------------------- each source

def test_cloud_init_instance_data_gives_the_id(tmp_path):
    with_cloud_init(tmp_path, CLOUD_INIT_ID.upper())
    server_id, source = detect_server_id(str(tmp_path), NO_METADATA)
    assert server_id == CLOUD_INIT_ID
    assert source == f"cloud-init instance data {tmp_path}/run/cloud-init/instance-data.json"


def test_older_cloud_init_spelling_with_a_hyphen_is_read(tmp_path):
    write(tmp_path, identity.CLOUD_INIT_DATA, json.dumps({"v1": {"instance-id": CLOUD_INIT_ID}}))
    assert detect_server_id(str(tmp_path), NO_METADATA)[0] == CLOUD_INIT_ID


@pytest.mark.parametrize("place", identity.CONFIG_DRIVE_DIRS)
def test_a_config_drive_in_each_known_place_gives_the_id(tmp_path, place):
    with_config_drive(tmp_path, DRIVE_ID, place)
    assert detect_server_id(str(tmp_path), NO_METADATA) == (DRIVE_ID, f"config drive {tmp_path}/{place}")


def test_dmi_product_uuid_gives_the_id(tmp_path):
    with_dmi(tmp_path, DMI_ID.upper())
    assert detect_server_id(str(tmp_path), NO_METADATA) == (
        DMI_ID, f"DMI product UUID {tmp_path}/sys/class/dmi/id/product_uuid")


def test_metadata_service_on_loopback_gives_the_id(tmp_path):
    with metadata_service() as (url, hits):
        assert detect_server_id(str(tmp_path), url, timeout=5) == (SERVICE_ID, f"metadata service {url}")
    assert hits == ["/openstack/latest/meta_data.json"]


def test_metadata_service_ignores_proxy_settings(tmp_path, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, closed_loopback_url())
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with metadata_service() as (url, _):
        assert detect_server_id(str(tmp_path), url, timeout=5)[0] == SERVICE_ID


# ---------------------------------------------------------------- order and fall-through

def test_sources_are_tried_in_order_cloud_init_config_drive_dmi_metadata(tmp_path):
    with_cloud_init(tmp_path)
    with_config_drive(tmp_path)
    with_dmi(tmp_path)
    with metadata_service() as (url, hits):
        assert detect_server_id(str(tmp_path), url, 5)[0] == CLOUD_INIT_ID
        os.remove(tmp_path / identity.CLOUD_INIT_DATA)
        assert detect_server_id(str(tmp_path), url, 5)[0] == DRIVE_ID
        os.remove(tmp_path / identity.CONFIG_DRIVE_DIRS[0] / identity.CONFIG_DRIVE_FILE)
        assert detect_server_id(str(tmp_path), url, 5)[0] == DMI_ID
        assert hits == []                       # the network is asked only when nothing local answers
        os.remove(tmp_path / identity.DMI_PRODUCT_UUID)
        assert detect_server_id(str(tmp_path), url, 5)[0] == SERVICE_ID


def test_invalid_values_are_skipped_with_a_debug_note(tmp_path, caplog):
    with_cloud_init(tmp_path, "iid-datasource-none")
    with_config_drive(tmp_path, "ffffffff-ffff-ffff-ffff-ffffffffffff")
    with_dmi(tmp_path, DMI_ID)
    with caplog.at_level(logging.DEBUG, logger="nova_snapshot_hook.cloud.identity"):
        assert detect_server_id(str(tmp_path), NO_METADATA)[0] == DMI_ID
    notes = [r.getMessage() for r in caplog.records]
    assert any("iid-datasource-none" in note for note in notes)
    assert any("config drive" in note for note in notes)


def test_all_zero_dmi_uuid_falls_through_to_the_metadata_service(tmp_path):
    with_dmi(tmp_path, "00000000-0000-0000-0000-000000000000")
    with metadata_service() as (url, _):
        assert detect_server_id(str(tmp_path), url, 5)[0] == SERVICE_ID


def test_broken_json_is_skipped(tmp_path):
    write(tmp_path, identity.CLOUD_INIT_DATA, "{not json")
    with_dmi(tmp_path)
    assert detect_server_id(str(tmp_path), NO_METADATA)[0] == DMI_ID


def test_nothing_found_lists_every_source_tried_and_why(tmp_path):
    server_id, tried = detect_server_id(str(tmp_path), NO_METADATA)
    assert server_id is None
    assert f"{tmp_path}/run/cloud-init/instance-data.json: missing" in tried
    for place in identity.CONFIG_DRIVE_DIRS:
        assert f"config drive {tmp_path}/{place}: not mounted" in tried
    assert f"{tmp_path}/sys/class/dmi/id/product_uuid: missing" in tried
    assert "dmidecode -s system-uuid: not run for a root other than /" in tried
    assert "metadata service (disabled)" in tried


# ---------------------------------------------------------------- the metadata service failing

def test_a_closed_loopback_port_gives_no_id_and_says_unreachable(tmp_path):
    url = closed_loopback_url()
    server_id, tried = detect_server_id(str(tmp_path), url, timeout=2)
    assert server_id is None
    assert f"metadata service {url}: unreachable" in tried


@pytest.mark.parametrize("body, status, why", [
    (b"{}", 200, "has no uuid"), (b"<html>", 200, "not valid JSON"), (b"{}", 404, "answered HTTP 404")])
def test_a_metadata_answer_without_an_id_gives_none_with_the_reason(tmp_path, body, status, why):
    with metadata_service(body, status) as (url, _):
        server_id, tried = detect_server_id(str(tmp_path), url, timeout=5)
    assert server_id is None and why in tried


def test_a_slow_metadata_service_is_given_up_after_the_timeout(tmp_path):
    with metadata_service(delay=3) as (url, _):
        started = time.monotonic()
        server_id, tried = detect_server_id(str(tmp_path), url, timeout=0.3)
        assert time.monotonic() - started < 2
    assert server_id is None and "unreachable" in tried


def test_an_empty_metadata_url_disables_the_service(tmp_path):
    with metadata_service() as (_, hits):
        assert detect_server_id(str(tmp_path), "", timeout=5)[0] is None
    assert hits == []


# ---------------------------------------------------------------- dmidecode

def fake_program(tmp_path, script):
    path = tmp_path / "fake-dmidecode"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def test_dmidecode_is_not_run_for_a_fixture_root(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setattr(identity, "DMIDECODE", fake_program(tmp_path, f"touch {marker}\necho {DMI_ID}\n"))
    assert detect_server_id(str(tmp_path / "root"), NO_METADATA)[0] is None
    assert not marker.exists()


def test_dmidecode_output_after_its_comment_lines_is_the_id(tmp_path):
    program = fake_program(tmp_path, f"echo '# SMBIOS implementations newer than version 3.2.0 are not'\n"
                                     f"echo {DMI_ID.upper()}\n")
    assert normalize_uuid(identity._dmidecode("/", 5, program)) == DMI_ID


@pytest.mark.parametrize("script, why", [
    ("sleep 5\n", "no answer within"), ("exit 2\n", "exit status 2"), ("true\n", "printed nothing")])
def test_a_failing_dmidecode_gives_the_reason(tmp_path, script, why):
    with pytest.raises(identity._NotFound, match=why):
        identity._dmidecode("/", 0.5, fake_program(tmp_path, script))


def test_a_missing_dmidecode_is_reported_not_installed(tmp_path):
    with pytest.raises(identity._NotFound, match="not installed"):
        identity._dmidecode("/", 1, str(tmp_path / "absent"))


# ---------------------------------------------------------------- resolve: settings against detection

def test_a_configured_id_that_matches_detection_is_used(tmp_path):
    with_cloud_init(tmp_path)
    server_id, source = resolve_server_id(CLOUD_INIT_ID.upper(), str(tmp_path), NO_METADATA)
    assert server_id == CLOUD_INIT_ID
    assert "[server] id" in source and "cloud-init" in source


def test_a_configured_id_is_used_when_nothing_is_detected(tmp_path):
    server_id, source = resolve_server_id(DRIVE_ID, str(tmp_path), NO_METADATA)
    assert server_id == DRIVE_ID and "[server] id" in source


def test_a_configured_id_that_differs_from_detection_is_refused_as_a_copy(tmp_path):
    with_dmi(tmp_path, DMI_ID)
    with pytest.raises(IdentityError) as info:
        resolve_server_id(CLOUD_INIT_ID, str(tmp_path), NO_METADATA)
    message = str(info.value)
    assert CLOUD_INIT_ID in message and DMI_ID in message
    assert "copy" in message and "backup" in message and "DMI product UUID" in message
    assert info.value.fix == (f"set [server] id in {identity.SETTINGS_FILE} to {DMI_ID}, "
                              "or leave it empty to detect it")


def test_the_settings_file_named_in_the_fix_can_be_another(tmp_path):
    with_dmi(tmp_path, DMI_ID)
    with pytest.raises(IdentityError, match="/tmp/other.conf"):
        resolve_server_id(CLOUD_INIT_ID, str(tmp_path), NO_METADATA, settings_path="/tmp/other.conf")


def test_detection_is_used_when_nothing_is_configured(tmp_path):
    with_config_drive(tmp_path)
    found = (DRIVE_ID, f"config drive {tmp_path}/{identity.CONFIG_DRIVE_DIRS[0]}")
    assert resolve_server_id("", str(tmp_path), NO_METADATA) == found
    assert resolve_server_id(None, str(tmp_path), NO_METADATA) == found


def test_nothing_configured_and_nothing_found_says_what_was_tried_and_how_to_fix(tmp_path):
    url = closed_loopback_url()
    with pytest.raises(IdentityError) as info:
        resolve_server_id("", str(tmp_path), url, timeout=2)
    assert "cloud-init" in str(info.value) and url in str(info.value)
    assert "[server] id" in info.value.fix


def test_a_configured_id_that_is_not_a_uuid_is_refused(tmp_path):
    with pytest.raises(IdentityError, match="not a server id") as info:
        resolve_server_id("my-server", str(tmp_path), NO_METADATA)
    assert "[server] id" in info.value.fix


def test_on_the_real_root_a_plain_directory_is_not_trusted_as_a_config_drive(tmp_path):
    # A copy of the original server's drive left inside the image would carry the original's id.
    with_config_drive(tmp_path, DRIVE_ID, "mnt/config")
    with pytest.raises(identity._NotFound, match="not a mounted config drive"):
        identity._config_drive("/", str(tmp_path / "mnt/config"))
