"""The one place an authenticated Cloud is made: keystoneauth's lesson, build the session once
and pass it down. It owns what every command shares: the auth plugin (v3password or
v3applicationcredential directly: the generic plugin would add a discovery request), TLS, the
proxy from the settings (neither cron nor apt passes a proxy environment), the rate-limit retry
adapter and its pool size, the token cache, and secret masking (the token is registered with the
redactor the moment it exists, so no output can carry it).
"""

import requests
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from .. import __version__
from ..log import log, redactor
from . import retry, token_cache
from .client import Cloud


def _auth_plugin(credentials):
    kwargs = credentials.auth_kwargs()
    if credentials.auth_type == "v3applicationcredential":
        return v3.ApplicationCredential(**kwargs)
    return v3.Password(**kwargs)


def make_session(credentials, settings, pool_size=retry.POOL_SIZE):
    http = retry.mount(requests.Session(), pool_size=pool_size)    # 429 and Retry-After waited out
    if settings.https_proxy:
        http.proxies = {"https": settings.https_proxy, "http": settings.https_proxy}
        if settings.no_proxy:
            http.proxies["no_proxy"] = settings.no_proxy
    verify = credentials.cacert or credentials.verify
    cert = (credentials.cert, credentials.key) if credentials.cert and credentials.key \
        else credentials.cert
    return ksa_session.Session(auth=_auth_plugin(credentials), session=http, verify=verify,
                               cert=cert or None, timeout=settings.api_timeout,
                               user_agent=f"nova-snapshot-hook/{__version__}")


def open_cloud(credentials, settings, pool_size=retry.POOL_SIZE, min_life=None):
    """An authenticated Cloud. With `min_life` (seconds), a cached token that outlives it is
    reused; without, the credentials themselves are tried (what `check` must prove)."""
    cloud = Cloud(credentials, make_session(credentials, settings, pool_size))
    if min_life is not None:
        token_cache.restore(cloud.session.auth, min_life=min_life)
    with cloud.translated("authenticating"):
        redactor.add(cloud.session.get_token())
    return cloud


def close_cloud(cloud):
    """Keep the current token for the next run (keystoneauth may have renewed it meanwhile)."""
    try:
        token_cache.save(cloud.session.auth)
    except Exception as err:        # a cache is only a cache
        log.debug(f"could not keep the token: {err}")
