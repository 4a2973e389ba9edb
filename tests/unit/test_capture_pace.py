"""How often the capture is looked at (Snapshotter.capture_pauses), and how quickly the
hook process ends once a backup is captured (main._done): the time apt is held beyond the
capture (bench/apt_hold.py measures it on the local cloud)."""

import os
import subprocess
import sys

import pytest

from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, Snapshotter
from nova_snapshot_hook.errors import CaptureTimeout

from fake_clock import FakeClock as Clock
from fake_cloud import FakeCloud

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = "11111111-2222-3333-4444-555555555555"


class CaptureAt(FakeCloud):
    """The new image is `queued` until `at` seconds after the request, then `saving` (by time,
    not by reads)."""

    def __init__(self, clock, at):
        super().__init__(clock)
        self.at = at
        self.capture = ["queued"]
        self.add_server(id=SERVER)

    def get_image(self, image_id):
        if self.clock() - self.asked_at >= self.at:
            self.images[image_id]["status"] = "saving"
        return super().get_image(image_id)

    @property
    def asked_at(self):
        return self.times[self.calls.index(("execute", "createBackup"))]

    def since_request(self, method):
        """When `method` was called after the request, in seconds since it."""
        start = self.calls.index(("execute", "createBackup"))
        return [at - self.asked_at for at in self.called_at(method, since=start)]


def capture(at, timeout=600, **request):
    clock = Clock()
    cloud = CaptureAt(clock, at)
    result = Snapshotter(cloud, SERVER, SnapshotRequest(**request), timeout, "web01",
                         clock=clock, sleep=clock.sleep).run()
    assert result.state == "captured"
    return cloud, clock.now - cloud.asked_at


def test_first_look_is_a_tenth_of_a_second_after_the_request():
    cloud, _ = capture(at=5)
    assert cloud.since_request("get_image")[0] == pytest.approx(0.1)


@pytest.mark.parametrize("at", [0.05, 0.3, 0.45])
def test_a_capture_under_half_a_second_is_seen_within_a_tenth_of_a_second(at):
    _, seen = capture(at)
    assert at <= seen <= at + 0.1 + 1e-9


@pytest.mark.parametrize("at", [0.9, 2, 4.5, 30, 300])
def test_a_longer_capture_is_seen_within_a_tenth_of_its_time_and_at_most_poll_interval(at):
    _, seen = capture(at)
    assert seen - at <= min(1.0, 0.1 * seen) + 1e-9


def test_a_long_capture_costs_about_one_look_a_second_and_nova_at_most_once_a_second():
    cloud, seen = capture(at=60)
    # quicker looks in the first ten seconds (a tenth of the time since the request), then one a
    # second: about 35 looks for the first ten seconds, one a second after
    assert len(cloud.since_request("get_image")) <= seen + 30
    server_looks = cloud.since_request("get_server")
    gaps = [b - a for a, b in zip(server_looks, server_looks[1:])]
    assert min(gaps) >= 1.0 - 1e-9
    assert len(server_looks) <= seen + 1


def test_a_slower_pace_can_be_asked_for_fleet_mode():
    cloud, _ = capture(at=5, capture_step=1.0)
    image_looks = cloud.since_request("get_image")
    gaps = [b - a for a, b in zip(image_looks, image_looks[1:])]
    assert image_looks[0] == pytest.approx(1.0) and min(gaps) == pytest.approx(1.0)


def test_the_wait_never_goes_past_the_deadline():
    clock = Clock()
    cloud = CaptureAt(clock, at=10 ** 6)
    snap = Snapshotter(cloud, SERVER, SnapshotRequest(), 7.0, "web01", clock=clock,
                       sleep=clock.sleep)
    with pytest.raises(CaptureTimeout, match="not captured before the deadline"):
        snap.run()
    assert clock.now == pytest.approx(7.0)


# -- the end of the hook process --------------------------------------------------------------
def run(code):
    return subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {REPO!r})\n"
                           + code], capture_output=True, text=True, timeout=60)


def test_the_program_ends_at_once_after_a_snapshot_with_its_output_flushed():
    done = run("sys.modules['keystoneauth1'] = object()\n"
               "from nova_snapshot_hook.main import _done\n"
               "import atexit; atexit.register(print, 'teardown')\n"
               "print('SUCCESS: captured', end='')\n"
               "_done(7, program=True)\n"
               "print('not reached')")
    assert done.returncode == 7 and done.stdout == "SUCCESS: captured"


def test_called_by_a_test_or_without_the_cloud_libraries_it_just_returns():
    assert run("sys.modules['keystoneauth1'] = object()\n"
               "from nova_snapshot_hook.main import _done\n"
               "assert _done(3, program=False) == 3\nprint('returned')").stdout == "returned\n"
    assert run("from nova_snapshot_hook.main import _done\n"
               "assert _done(0, program=True) == 0\nprint('returned')").stdout == "returned\n"
