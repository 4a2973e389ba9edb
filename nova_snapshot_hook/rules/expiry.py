"""When the application credential runs out: the one judgement of `check`, `status` and whatever
else warns about it (a notification fires at the same thresholds). Pure: handed Keystone's
`expires_at` and the time.

  days left (whole days, rounded down)     verdict   check   status (monitoring)
  none: the credential never expires       ok        OK      0 OK
  31 or more                               ok        OK      0 OK
  30 or fewer                              warn      WARN    1 WARNING
  7 or fewer, or expired                   fail      FAIL    2 CRITICAL

Rounded down, so "30 days left" means at least 30 whole days: 30 days and 12 hours warns.
"""

import math
from dataclasses import dataclass

from . import inventory
from ..errors import EXIT_CRITICAL, EXIT_OK, EXIT_WARNING

WARN_DAYS, FAIL_DAYS = 30, 7
OK, WARN, FAIL = "ok", "warn", "fail"
EXIT = {OK: EXIT_OK, WARN: EXIT_WARNING, FAIL: EXIT_CRITICAL}
DAY = 86400


@dataclass(frozen=True)
class Expiry:
    verdict: str            # OK, WARN or FAIL
    days_left: int = None   # whole days, rounded down (negative once expired); None: never
    expires: float = None   # epoch seconds; None: never

    @property
    def expired(self):
        return self.days_left is not None and self.days_left < 0

    @property
    def exit_code(self):
        return EXIT[self.verdict]


def parse(expires_at):
    """Keystone's `expires_at` ("2027-12-01T00:00:00.000000", UTC; null: never) as epoch
    seconds, or None; ValueError for anything else."""
    if expires_at is None:
        return None
    epoch = inventory.parse_time(expires_at) if isinstance(expires_at, str) else None
    if epoch is None:
        raise ValueError(f"not a time: {str(expires_at)[:60]!r}")
    return epoch


def judge(expires, now):
    """The Expiry of a credential that expires at `expires` (epoch seconds, None: never)."""
    if expires is None:
        return Expiry(OK)
    # An expiry at this very second is past: Keystone refuses the credential from then on.
    days = math.floor((expires - now) / DAY) if expires > now else min(
        -1, math.floor((expires - now) / DAY))
    verdict = FAIL if days <= FAIL_DAYS else WARN if days <= WARN_DAYS else OK
    return Expiry(verdict, days, expires)
