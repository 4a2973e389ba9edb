"""How often the capture is looked at (Snapshotter.capture_pauses), and how quickly the
hook process ends once a backup is captured (main._done): the time apt is held beyond the
capture (bench/apt_hold.py measures it on the local cloud)."""

import os
import subprocess
import sys

import pytest

from nova_snapshot_hook.backup.snapshotter import SnapshotRequest, Snapshotter

from fake_clock import FakeClock as Clock

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = "11111111-2222-3333-4444-555555555555"


class CaptureAt:
    """A cloud whose new image is `queued` until `at` seconds after the request, then `saving`;
    it records when Glance and Nova were asked."""

    def __init__(self, clock, at):
        self.clock, self.at = clock, at
        self.asked_at, self.image_looks, self.server_looks = None, [], []

    def get_server(self, server_id):
        if self.asked_at is not None:
            self.server_looks.append(self.clock() - self.asked_at)
        state = "image_pending_upload" if self.asked_at is not None else None
        return {"id": server_id, "OS-EXT-STS:task_state": state}

    def server_action(self, server_id, action, body):
        self.asked_at = self.clock()
        return {"image_id": "new"}, "req-1"

    def get_image(self, image_id):
        since = self.clock() - self.asked_at
        self.image_looks.append(since)
        return {"id": image_id, "status": "saving" if since >= self.at else "queued"}


def capture(at, timeout=600, **request):
    clock = Clock()
    cloud = CaptureAt(clock, at)
    result = Snapshotter(cloud, SERVER, SnapshotRequest(**request), timeout, "web01",
                         clock=clock, sleep=clock.sleep).run()
    assert result.state == "captured"
    return cloud, clock.now - cloud.asked_at


def test_first_look_is_a_tenth_of_a_second_after_the_request():
    cloud, _ = capture(at=5)
    assert cloud.image_looks[0] == pytest.approx(0.1)


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
    assert len(cloud.image_looks) <= seen + 30
    gaps = [b - a for a, b in zip(cloud.server_looks, cloud.server_looks[1:])]
    assert min(gaps) >= 1.0 - 1e-9
    assert len(cloud.server_looks) <= seen + 1


def test_a_slower_pace_can_be_asked_for_fleet_mode():
    cloud, _ = capture(at=5, capture_step=1.0)
    gaps = [b - a for a, b in zip(cloud.image_looks, cloud.image_looks[1:])]
    assert cloud.image_looks[0] == pytest.approx(1.0) and min(gaps) == pytest.approx(1.0)


def test_the_wait_never_goes_past_the_deadline():
    clock = Clock()
    cloud = CaptureAt(clock, at=10 ** 6)
    snap = Snapshotter(cloud, SERVER, SnapshotRequest(), 7.0, "web01", clock=clock,
                       sleep=clock.sleep)
    snap.cloud.set_image_properties = lambda *args: None
    with pytest.raises(Exception, match="not captured before the deadline"):
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
