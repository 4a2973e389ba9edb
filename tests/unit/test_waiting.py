"""waiting.wait_until, the one wait of the tool, and its growing schedule, on a fake clock."""

import itertools

import pytest

from nova_snapshot_hook.waiting import growing, wait_until

from fake_clock import FakeClock


class Probe:
    """Answers None until `at` (clock time), then `answer`; notes when it was called."""

    def __init__(self, clock, at, answer="ready"):
        self.clock, self.at, self.answer, self.calls = clock, at, answer, []

    def __call__(self):
        self.calls.append(self.clock())
        return self.answer if self.clock() >= self.at else None


def wait(probe, deadline, schedule):
    return wait_until(probe, deadline, schedule, clock=probe.clock, sleep=probe.clock.sleep)


def test_it_returns_the_probes_first_answer():
    probe = Probe(FakeClock(), at=3)
    assert wait(probe, 60, itertools.repeat(1.0)) == "ready"
    assert probe.calls == [1, 2, 3]


def test_an_answer_that_is_false_but_not_none_is_an_answer():
    for answer in ({}, 0, "", False):
        probe = Probe(FakeClock(), at=0, answer=answer)
        assert wait(probe, 60, itertools.repeat(1.0)) == answer and len(probe.calls) == 1


def test_it_follows_the_schedule_pause_before_each_call():
    probe = Probe(FakeClock(), at=10 ** 6)
    wait(probe, 60, [0, 0.5, 2, 0.25])
    assert probe.calls == [0, 0.5, 2.5, 2.75]


def test_the_schedule_is_read_just_before_each_pause():
    clock = FakeClock()
    probe = Probe(clock, at=10 ** 6)

    def by_the_clock():
        while True:
            yield 1.0 + clock() / 2       # a pace read from the clock at that moment

    wait(probe, 20, by_the_clock())
    assert probe.calls[:4] == [1, 2.5, 4.75, 8.125]


def test_it_stops_at_the_deadline_after_a_last_call_there():
    probe = Probe(FakeClock(), at=10 ** 6)
    assert wait(probe, 10, itertools.repeat(3.0)) is None
    assert probe.calls == [3, 6, 9, 10]           # the last pause cut short at the deadline
    assert probe.clock() == 10


def test_nothing_is_called_once_the_deadline_has_passed():
    probe = Probe(FakeClock(100), at=0)
    assert wait(probe, 100, itertools.repeat(0)) is None and probe.calls == []
    assert wait(probe, 99, itertools.repeat(0)) is None and probe.calls == []


def test_an_answer_at_the_deadline_counts():
    probe = Probe(FakeClock(), at=10)
    assert wait(probe, 10, itertools.repeat(4.0)) == "ready" and probe.calls == [4, 8, 10]


def test_an_ended_schedule_ends_the_wait():
    probe = Probe(FakeClock(), at=10 ** 6)
    assert wait(probe, 60, [0, 1]) is None and probe.calls == [0, 1]


def test_what_the_probe_raises_ends_the_wait_and_reaches_the_caller():
    clock = FakeClock()
    calls = []

    def failing():
        calls.append(clock())
        if len(calls) == 2:
            raise RuntimeError("the server went to ERROR")

    with pytest.raises(RuntimeError, match="went to ERROR"):
        wait_until(failing, 60, itertools.repeat(1.0), clock=clock, sleep=clock.sleep)
    assert calls == [1, 2]


def test_growing_looks_at_once_then_grows_by_half_up_to_the_most():
    assert list(itertools.islice(growing(0.25, 1.0), 6)) == [0, 0.25, 0.375, 0.5625, 0.84375, 1.0]
    assert list(itertools.islice(growing(0.5, 5.0), 9))[-2:] == [5.0, 5.0]
    # the first pause is kept even above the most (Snapshotter: poll_interval under 0.25 s)
    assert list(itertools.islice(growing(0.25, 0.1), 4)) == [0, 0.25, 0.1, 0.1]
