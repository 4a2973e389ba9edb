import os
import sys

# The e2e tests share the integration tests' cloud fixtures and helpers (tests/integration/cloud_fixtures.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from cloud_fixtures import admin, minicloud  # noqa: E402

__all__ = ["admin", "minicloud"]  # fixtures pytest finds here by name (pyflakes: used)
