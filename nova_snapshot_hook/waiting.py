"""The one wait of the tool: look (probe) until there is an answer or the deadline passes.

The backup waits for an idle server, for Nova to take the request and for the capture;
`restore` waits for the server to settle. Each has its own pace (a schedule of pauses) and the
same deadline rule: no pause goes past the deadline, and the last look is at the deadline.
"""

import time


def wait_until(probe, deadline, schedule, clock=time.monotonic, sleep=time.sleep):
    """Call probe() until it returns something other than None, and return that.

    schedule: the pause before each call, in seconds (0: at once); it is read one pause at a
    time, just before the pause, so a generator may pace by what it reads then (the clock).
    deadline: a clock() time (time.monotonic()). No pause begins at or after it and none goes
    past it: a pause cut short by the deadline is followed by a last call, at the deadline. Then
    None is returned (also when the schedule ends). A probe that must not act that late (send a
    request nobody would wait for) reads the clock itself. What probe() raises ends the wait and
    reaches the caller.
    """
    for pause in schedule:
        left = deadline - clock()
        if left <= 0:
            return None
        if pause > 0:
            sleep(min(pause, left))
        found = probe()
        if found is not None:
            return found
    return None


def growing(first, most, factor=1.5):
    """A schedule that looks at once, then after `first` seconds, each pause `factor` times the
    one before, up to `most` (the first one as given)."""
    yield 0.0
    pause = first
    while True:
        yield pause
        pause = min(most, pause * factor)
