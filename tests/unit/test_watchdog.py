import subprocess
import time

from nova_snapshot_hook.deadline import DeadlineExceeded, watchdog

SWALLOWER = """
import sys, time
sys.path.insert(0, {repo!r})
from nova_snapshot_hook.deadline import watchdog
with watchdog(0.2, grace=0.2, last_words=("WARNING: gave up; apt goes on.", 0)):
    while True:
        try:
            time.sleep(10)
        except Exception:      # a library that swallows everything
            pass
"""


def test_the_deadline_raises_a_one_line_error():
    started = time.monotonic()
    try:
        with watchdog(0.1, grace=0.1):
            time.sleep(5)
    except DeadlineExceeded as err:
        assert "hard deadline" in str(err)
    else:
        raise AssertionError("no DeadlineExceeded")
    assert time.monotonic() - started < 2


def test_a_swallowed_deadline_still_ends_the_process_with_the_given_status():
    import os
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/python3", "-c", SWALLOWER.format(repo=repo)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stderr.strip() == "WARNING: gave up; apt goes on."
    assert time.monotonic() - started < 5
