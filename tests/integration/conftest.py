# The fixtures live in cloud_fixtures.py, which the e2e tests share.
from cloud_fixtures import admin, control, minicloud, proxy, tool  # noqa: F401
