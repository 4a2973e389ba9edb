"""The soak's TimedProxy (tests/soak/machine.py): two backup requests make two images at least a
second apart, which the rotation by Glance's one-second created_at needs. The first two-server
run that started the program faster met two images of one second: the hold counted from the
request, while Nova makes the image only just before it answers."""

import os
import sys
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "soak"))

import machine  # noqa: E402

ACTION = "/compute/v2.1/servers/0b6f3a52-6d3e-4a4c-9b8f-3c1f2e7d9a10/action"


def test_a_backup_request_waits_a_second_after_the_answer_to_the_one_before(monkeypatch):
    answered = []

    def nova(self, handler):              # Nova makes the image, then answers: 0.4 s
        time.sleep(0.4)
        answered.append(time.time())

    monkeypatch.setattr(machine.FaultProxy, "handle", nova)
    proxy = machine.TimedProxy()
    try:
        for _ in range(2):
            proxy.handle(SimpleNamespace(command="POST", path=ACTION))
        # the second image is made at least a second after the first one's answer
        assert answered[1] - 0.4 - answered[0] >= 1.0
        assert proxy.held > 0.5
    finally:
        proxy.server.server_close()


def test_other_requests_are_not_held(monkeypatch):
    monkeypatch.setattr(machine.FaultProxy, "handle", lambda self, handler: None)
    proxy = machine.TimedProxy()
    try:
        for path in (ACTION, ACTION.replace("/action", ""), "/image/v2/images"):
            proxy.handle(SimpleNamespace(command="GET", path=path))
        proxy.handle(SimpleNamespace(command="POST", path=ACTION))
        began = time.monotonic()
        proxy.handle(SimpleNamespace(command="GET", path=ACTION.replace("/action", "")))
        assert time.monotonic() - began < 0.5 and proxy.held == 0
    finally:
        proxy.server.server_close()
