"""Concurrency (issue 7, item 2): runs that overlap, follow each other, or die mid-run end with
no duplicate image, no stale lock, and the hook still working."""

import signal
import subprocess
import threading
import time

from test_faults import (check_aftermath, faulty, hook, lock_is_free,  # noqa: F401
                         scheduled)


def test_a_scheduled_run_and_an_apt_run_at_once_make_one_image_each(faulty, admin, control,
                                                                     minicloud):
    control("hold_seconds", 2)
    results = {}
    daily = threading.Thread(target=lambda: results.update(
        scheduled=scheduled(faulty)))
    daily.start()
    time.sleep(0.5)
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
                                                                           minicloud):
    control("hold_seconds", 4)
    results = []
    killed = threading.Thread(target=lambda: results.append(hook(faulty)))
    killed.start()
    time.sleep(2.0)                                 # inside the capture wait, the lock held
    assert not lock_is_free(faulty)
    # The hook is the newest process running `nova_snapshot_hook apt-hook`: kill -9 it.
    out = subprocess.run(["pgrep", "-f", "-n", "nova_snapshot_hook apt-hook"], capture_output=True,
                         text=True).stdout.split()
    assert out, "the hook is not running"
    subprocess.run(["kill", "-9", out[0]], check=True)
    killed.join()
    assert results[0].returncode == -signal.SIGKILL
    assert lock_is_free(faulty)                      # the kernel dropped the flock with the process
    admin.wait_idle(minicloud["server"])
    control("hold_seconds", 0)
    time.sleep(1.1)
    after = hook(faulty)
    assert after.returncode == 0 and "SUCCESS:" in after.stdout, after.stderr
    admin.wait_idle(minicloud["server"])
    # The killed run's request may still have completed: one image per apt run at most.
    assert 1 <= len(admin.images(instance_uuid=minicloud["server"], nsh_trigger="apt")) <= 2
    check_aftermath(faulty, admin, minicloud)
