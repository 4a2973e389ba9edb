# The fixtures live in cloud_fixtures.py, which the e2e tests share. Listed in __all__ so that
# pyflakes (make check) counts them as used: pytest finds them by their names here.
from cloud_fixtures import admin, control, minicloud, proxy, tool

__all__ = ["admin", "control", "minicloud", "proxy", "tool"]
