"""Wait out "too many requests" below keystoneauth: HTTP 429, and 413 or 503 with Retry-After.

A rate-limited cloud (Nova's or Glance's API behind a rate limiter, or a proxy in front of them)
answers 429, or the older 413, with a Retry-After header: the request was not processed and may be
sent again once that time has passed. keystoneauth1 5.0 can retry status codes
(`status_code_retries`, `retriable_status_codes`), but it waits its own growing delay and ignores
Retry-After. urllib3's Retry, under the requests session that keystoneauth uses, honours it; so
the policy lives here, on the session's HTTP adapter, and covers every request of every command,
the POST of createBackup included (a 429 means Nova did nothing).

- 429: retried, after Retry-After when given, else after 1, 2, 4, ... seconds;
- 413 and 503: retried only when they carry Retry-After (a 413 without it is a quota that no
  wait will fix; a 503 without it is an outage that the caller reports);
- a wait is capped at MAX_WAIT seconds, and a request is sent at most 1 + RETRIES times; then the
  last answer goes up to keystoneauth, which raises it as usual;
- connection and read errors are not retried (a POST that reached Nova must not be sent twice).
"""

from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from ..log import log

RETRIES = 5
MAX_WAIT = 60.0          # seconds, for one wait: a longer Retry-After is cut to this
POOL_SIZE = 10           # connections kept per host; fleet mode raises it to its concurrency


class RateLimitRetry(Retry):
    """urllib3's Retry, limited to rate-limit answers, with capped waits and a log line."""

    def get_retry_after(self, response):
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        return None if seconds is None else min(float(seconds), MAX_WAIT)

    def get_backoff_time(self):
        return min(MAX_WAIT, max(1.0, super().get_backoff_time()))

    def sleep(self, response=None):
        wait = (self.get_retry_after(response) if response is not None else None)
        if wait is None:
            wait = self.get_backoff_time()
        status = getattr(response, "status", "?")
        log.info(f"The cloud asks to slow down (HTTP {status}); sending the request again in "
                 f"{wait:.1f} s.")
        super().sleep(response)


def policy(retries=RETRIES):
    return RateLimitRetry(total=retries, status=retries, connect=0, read=False, other=0,
                          status_forcelist=(429,), allowed_methods=None,
                          respect_retry_after_header=True, raise_on_status=False,
                          backoff_factor=1.0)


def mount(http, pool_size=POOL_SIZE, retries=RETRIES):
    """Mount the policy on a requests.Session for http:// and https://, with `pool_size`
    connections kept per host (threads beyond it would open and drop connections)."""
    adapter = HTTPAdapter(max_retries=policy(retries), pool_connections=POOL_SIZE,
                          pool_maxsize=max(POOL_SIZE, pool_size))
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http
