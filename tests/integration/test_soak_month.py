"""One simulated month of the soak (tests/soak, issue 16) in every `make check`: the real
scheduled runs and apt hook on a simulated calendar, with faults, for an image-backed and a
volume-backed server, checked each day against the soak's own model (Glance's images, Cinder's
snapshots). `make soak` runs the two years."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "soak"))

import soak  # noqa: E402
from machine import faketime_missing  # noqa: E402

SEED = 1            # fixed: a failure here replays with tests/soak/soak.py --days 31 --seed 1


def test_a_simulated_month_keeps_exactly_what_the_model_says(minicloud):
    missing = faketime_missing()
    if missing:
        if os.environ.get("NSH_REQUIRE_CLOUD") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    status, line = soak.run_soak(31, SEED, soak.DEFAULT_START)
    print(line)
    assert status == 0, line
    assert " 0 mismatches, 0 leaks, 0 problems" in line
    assert "2 servers (image-backed, volume-backed)" in line
