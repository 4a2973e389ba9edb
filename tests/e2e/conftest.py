import os
import sys

import pytest

# The e2e tests share the integration tests' cloud fixtures and helpers (tests/integration/cloud_fixtures.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from cloud_fixtures import admin, minicloud  # noqa: E402

from aptlab import SUITES, Root, built_deb, cloud_is_up  # noqa: E402

__all__ = ["admin", "minicloud"]  # fixtures pytest finds here by name (pyflakes: used)


@pytest.fixture(scope="module", params=SUITES)
def root(request):
    """A Debian root of each suite with the built .deb installed, one per test module:
    build/roots/<the module's ROOT_NAME>-<suite>. A module whose ROOT_NEEDS_CLOUD is false
    makes it without the local cloud; the others are skipped (failed under NSH_REQUIRE_CLOUD=1)
    before any root is made when the cloud is not up. test_lifecycle.py has a root of its own."""
    deb = built_deb()
    if getattr(request.module, "ROOT_NEEDS_CLOUD", True):
        cloud_is_up()
    made = Root(request.param, request.module.ROOT_NAME).create(deb)
    yield made
    made.destroy()
