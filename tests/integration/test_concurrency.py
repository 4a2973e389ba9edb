"""Concurrency (issue 7, item 2): runs that overlap, follow each other, or die mid-run end with
no duplicate image, no stale lock, and the hook still working."""

import re
import signal
import threading
import time

from runners import start_hook
from test_faults import ACTION, check_aftermath, faulty, hook, lock_is_free, scheduled

__all__ = ["faulty"]  # a fixture pytest finds here by name (pyflakes: used)


def in_capture_wait(proxy):
    """Whether the one run sending requests through the proxy is in its capture wait: its server
    action (the createBackup) and then a poll reached the proxy. It holds the host lock from
    before that action until the capture ends (the fake driver holds it hold_seconds)."""
    with proxy.lock:
        log = list(proxy.log)
    actions = [n for n, (method, path) in enumerate(log)
               if method == "POST" and re.search(ACTION, path)]
    return bool(actions) and len(log) > actions[0] + 1


def wait_until(condition, timeout=60):
    """Poll condition() every 50 ms until it is true or timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_scheduled_run_and_an_apt_run_at_once_make_one_image_each(faulty, admin, control,
                                                                     minicloud, proxy):
    control("hold_seconds", 2)
    results = {}
    daily = threading.Thread(target=lambda: results.update(
        scheduled=scheduled(faulty)))
    daily.start()
    # The apt run starts while the scheduled one holds the lock, inside its capture wait.
    wait_until(lambda: in_capture_wait(proxy) or not daily.is_alive())
    assert in_capture_wait(proxy), (results.get("scheduled"), proxy.log)
    results["apt"] = hook(faulty)
    daily.join()
    assert results["scheduled"].returncode == 0, results["scheduled"].stderr
    assert results["apt"].returncode == 0 and "SUCCESS:" in results["apt"].stdout
    admin.wait_idle(minicloud["server"])
    assert len(admin.images(instance_uuid=minicloud["server"], nsh_trigger="apt")) == 1
    assert len(admin.images(instance_uuid=minicloud["server"], nsh_trigger="schedule")) == 1
    assert faulty.schedule_state.read_text().endswith(" daily\n")
    check_aftermath(faulty, admin, minicloud)


def test_two_apt_runs_back_to_back_make_one_image_within_the_minimum_interval(faulty, admin,
                                                                              minicloud):
    faulty.settings.write_text(faulty.settings.read_text().replace("min_interval = 0",
                                                                   "min_interval = 600"))
    first, second = hook(faulty), hook(faulty)
    assert first.returncode == 0 and "SUCCESS:" in first.stdout, first.stderr
    # Same frontend and list, or just within the interval: either way no second image.
    assert second.returncode == 0 and "no new snapshot" in second.stdout, second.stdout
    admin.wait_idle(minicloud["server"])
    assert len(admin.images(instance_uuid=minicloud["server"], nsh_trigger="apt")) == 1
    check_aftermath(faulty, admin, minicloud)


def test_a_hook_killed_mid_run_leaves_no_stale_lock_and_the_next_run_works(faulty, admin, control,
                                                                           minicloud, proxy):
    control("hold_seconds", 4)
    # our own child: killed by its pid
    process = start_hook(root=faulty.root, settings=faulty.settings)
    try:
        wait_until(lambda: in_capture_wait(proxy) or process.poll() is not None)
        assert process.poll() is None, process.communicate()
        assert in_capture_wait(proxy), proxy.log
        assert not lock_is_free(faulty)             # inside the capture wait, the lock held
        process.kill()                              # SIGKILL
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:                  # a failed assertion above: no orphan left
            process.kill()
            process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert lock_is_free(faulty)                      # the kernel dropped the flock with the process
    admin.wait_idle(minicloud["server"])
    control("hold_seconds", 0)
    after = hook(faulty)
    assert after.returncode == 0 and "SUCCESS:" in after.stdout, after.stderr
    admin.wait_idle(minicloud["server"])
    # The killed run's request may still have completed: one image per apt run at most.
    assert 1 <= len(admin.images(instance_uuid=minicloud["server"], nsh_trigger="apt")) <= 2
    check_aftermath(faulty, admin, minicloud)
