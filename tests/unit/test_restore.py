import contextlib
import time
import types

import pytest

from nova_snapshot_hook.rules import restore_plan as restore
from nova_snapshot_hook.errors import CloudError, ConfigError
from nova_snapshot_hook.commands import restore as restore_command
from nova_snapshot_hook.commands.restore import wait_for_server
from nova_snapshot_hook.text import call_lines

from fake_clock import FakeClock
from fake_cloud import TASK_STATE, FakeCloud

SERVER = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"


def server(**extra):
    base = {"id": SERVER, "name": "web01", "status": "ACTIVE", "OS-EXT-STS:vm_state": "active",
            "OS-EXT-STS:task_state": None, "image": {"id": "base-image"},
            "flavor": {"id": "flavor-1"}, "key_name": "ops", "addresses": {},
            "OS-EXT-AZ:availability_zone": "az-2",
            "security_groups": [{"name": "default"}, {"name": "web"}, {"name": "web"}]}
    base.update(extra)
    return base


def image(**extra):
    base = {"id": "img-1", "name": "web01-daily-x", "status": "active", "instance_uuid": SERVER,
            "created_at": "2026-11-26T01:00:00Z"}
    base.update(extra)
    return base


def test_a_backup_of_this_active_server_may_rebuild_it():
    assert restore.rebuild_refusals(server(), image(), SERVER) == []


def test_an_image_of_another_server_is_refused_unless_forced():
    problems = restore.rebuild_refusals(server(), image(instance_uuid=OTHER), SERVER)
    assert len(problems) == 1 and f"belongs to server {OTHER}" in problems[0]
    assert "--force" in problems[0]
    assert restore.rebuild_refusals(server(), image(instance_uuid=OTHER), SERVER, force=True) == []
    plain = restore.rebuild_refusals(server(), image(instance_uuid=None), SERVER)
    assert "no server (it is not a backup)" in plain[0]


@pytest.mark.parametrize("bad_server, bad_image, words", [
    ({}, {"status": "queued"}, "is queued, not active"),
    ({"OS-EXT-STS:vm_state": "building"}, {}, "Nova rebuilds only an active, stopped or error"),
    ({"OS-EXT-STS:task_state": "image_backup"}, {}, "busy (task_state image_backup)"),
    ({"image": ""}, {}, "boots from a volume"),
])
def test_rebuild_is_refused_when_nova_would_refuse_or_the_image_is_unusable(bad_server, bad_image,
                                                                             words):
    problems = restore.rebuild_refusals(server(**bad_server), image(**bad_image), SERVER,
                                        force=True)
    assert len(problems) == 1 and words in problems[0]


def test_the_explanation_says_what_is_lost_since_when():
    lines = restore.rebuild_explanation(server(), image(), now=time.time())
    text = "\n".join(lines)
    assert "EVERYTHING WRITTEN SINCE 2026-11-26 01:00:00 UTC IS LOST" in text
    assert "keeps its id, its addresses and its attached volumes" in text
    assert "web01" in lines[0] and "img-1" in lines[0]


def test_rebuild_calls_protect_the_image_then_rebuild():
    assert restore.protect_call("img-1") == restore.Call(
        "PATCH", "image", "/v2/images/img-1", [{"op": "replace", "path": "/protected",
                                               "value": True}])
    call = restore.rebuild_call(SERVER, "img-1")
    assert call.body == {"rebuild": {"imageRef": "img-1"}}
    assert call.header() == f"POST <compute>/servers/{SERVER}/action  " \
                            "(OpenStack-API-Version: compute 2.45)"
    assert "json-patch" in restore.protect_call("img-1").header()


def test_a_new_server_copies_flavor_networks_key_groups_and_zone():
    ports = [{"net_id": "net-a", "port_id": "p1"}, {"net_id": "net-b"}, {"net_id": "net-a"}]
    body, notes = restore.new_server_body("web01-restored", server(addresses={"a": []}), "img-1",
                                          ports)
    assert body == {"server": {
        "name": "web01-restored", "imageRef": "img-1", "flavorRef": "flavor-1",
        "networks": [{"uuid": "net-a"}, {"uuid": "net-b"}], "key_name": "ops",
        "security_groups": [{"name": "default"}, {"name": "web"}],
        "availability_zone": "az-2"}}
    assert any(note.startswith("flavor: flavor-1 (copied") for note in notes)


def test_options_win_over_what_would_be_copied():
    body, notes = restore.new_server_body(
        "n", server(), "img-1", [{"net_id": "net-a"}], flavor="big", networks=["net-x", "net-x"],
        key_name="other", security_groups=["locked"], availability_zone="az-9")
    server_body = body["server"]
    assert server_body["flavorRef"] == "big" and server_body["networks"] == [{"uuid": "net-x"}]
    assert server_body["key_name"] == "other" and server_body["availability_zone"] == "az-9"
    assert server_body["security_groups"] == [{"name": "locked"}]
    assert "flavor: big (given)" in notes


def test_a_server_without_networks_gives_a_new_server_none_as_microversion_2_37_requires():
    bare = server(security_groups=None, key_name=None, **{"OS-EXT-AZ:availability_zone": ""})
    body, notes = restore.new_server_body("n", bare, "img-1", [])
    assert body["server"] == {"name": "n", "imageRef": "img-1", "flavorRef": "flavor-1",
                              "networks": "none"}
    assert "networks: none (the server has none)" in notes
    no_net = restore.new_server_body("n", server(), "img-1", [{"net_id": "a"}], no_network=True)
    assert no_net[0]["server"]["networks"] == "none"


def test_addresses_without_readable_ports_are_refused_instead_of_booting_without_network():
    with pytest.raises(ConfigError, match="--network NET_ID"):
        restore.new_server_body("n", server(addresses={"private": [{"addr": "10.0.0.5"}]}),
                                "img-1", [])


def test_a_config_drive_is_copied():
    body, _ = restore.new_server_body("n", server(config_drive="True"), "img-1", [])
    assert body["server"]["config_drive"] is True


def test_a_new_server_needs_an_active_image():
    assert restore.new_server_refusals(image(status="saving")) == ["image img-1 is saving, "
                                                                   "not active"]
    assert restore.new_server_refusals(image()) == []


def test_unprotect_hint_is_the_openstack_command():
    assert restore.unprotect_hint("img-1") == "openstack image set --unprotected img-1"


class Waiting:
    """wait_for_server against FakeCloud's server, which shows `changes` on its next reads (the
    last for good), on a fake clock from 0; `asked` holds when each read was answered."""

    def __init__(self, *changes):
        self.clock = FakeClock()
        self.cloud = FakeCloud(self.clock)
        self.cloud.add_server(id=SERVER, name="web01")
        self.cloud.script_server(SERVER, *changes)

    @property
    def asked(self):
        return self.cloud.called_at("get_server")

    def wait(self, seconds, **kwargs):
        return wait_for_server(self.cloud, SERVER, self.clock() + seconds, clock=self.clock,
                               sleep=self.clock.sleep, **kwargs)


def test_waiting_for_a_rebuild_ends_when_the_server_runs_the_image():
    old, new = "5b1e8c2a-0d1f-4e55-9a3b-7c2d4e6f8a10", "c7d9e1f3-2a4b-4c6d-8e0f-1a3b5c7d9e2f"
    waiting = Waiting({TASK_STATE: "rebuilding"}, {TASK_STATE: None, "image": {"id": old}},
                      {"image": {"id": new}})
    done = waiting.wait(30, image_id=new)
    assert done["image"]["id"] == new and len(waiting.asked) == 3


def test_a_server_in_error_is_a_failure_with_its_fault():
    waiting = Waiting({"status": "ERROR", "fault": {"message": "No valid host"}})
    with pytest.raises(CloudError, match="went to ERROR: No valid host"):
        waiting.wait(30)


def test_the_server_is_read_at_once_then_at_growing_pauses_up_to_five_seconds():
    waiting = Waiting(*[{"status": "BUILD"}] * 12, {"status": "ACTIVE"})
    waiting.wait(600)
    assert waiting.asked[:5] == pytest.approx([0, 0.5, 1.25, 2.375, 4.0625])
    gaps = [b - a for a, b in zip(waiting.asked, waiting.asked[1:])]
    assert max(gaps) == pytest.approx(5.0) and len(waiting.asked) == 13


def test_waiting_gives_up_at_the_deadline_after_a_last_look():
    waiting = Waiting({"status": "BUILD", TASK_STATE: "spawning"})
    with pytest.raises(CloudError, match="still BUILD .task_state spawning. at the deadline"):
        waiting.wait(10)
    assert waiting.asked[-1] == pytest.approx(10.0) and waiting.clock() == pytest.approx(10.0)


# -- the plan a dry run prints is the plan a real run sends ---------------------------------------
def restore_args(image_id, **options):
    values = dict(image=image_id, rebuild=False, new=None, yes=True, force=False, dry_run=False,
                  flavor=None, network=None, no_network=False, key_name=None,
                  security_group=None, availability_zone=None, timeout=60, no_wait=True)
    values.update(options)
    return types.SimpleNamespace(**values)


def restore_context(cloud, server_id):
    class Context:
        settings = types.SimpleNamespace(timeout=600, server_id="", path="/etc/x.conf")

        @contextlib.contextmanager
        def bounded(self, seconds, last_words=None):
            yield time.monotonic() + seconds

    ctx = Context()
    ctx.cloud, ctx.server_id = cloud, server_id
    return ctx


@pytest.mark.parametrize("how", [dict(rebuild=True), dict(new="copy"),
                                 dict(new="copy", protected=True)])
def test_a_real_restore_sends_exactly_the_calls_its_dry_run_printed(how, capsys):
    cloud = FakeCloud()
    server_id = cloud.add_server()
    image_id = cloud.add_image(instance_uuid=server_id, image_type="backup",
                               protected=how.pop("protected", False))
    restore_command.run(restore_context(cloud, server_id), restore_args(image_id, dry_run=True,
                                                                         **how))
    printed = capsys.readouterr().out.split("these calls would be made (nothing was "
                                            "changed):\n")[1]
    assert cloud.executed == [] and printed
    restore_command.run(restore_context(cloud, server_id), restore_args(image_id, **how))
    assert "\n".join(call_lines(cloud.executed)) + "\n" == printed
    assert cloud.images[image_id]["protected"] is True
