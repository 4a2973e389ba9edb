import logging

import pytest

from nova_snapshot_hook.log import log


@pytest.fixture
def warnings():
    """The WARNING lines logged meanwhile (a handler of its own: other tests' logging setup may
    stop propagation to pytest's caplog)."""
    lines = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(record.getMessage())
    log.addHandler(handler)
    yield lines
    log.removeHandler(handler)
