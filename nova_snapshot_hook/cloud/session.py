"""The one place an authenticated Cloud is made: keystoneauth's lesson, build the session once
and pass it down. It owns what every command shares: the auth plugin (v3password or
v3applicationcredential directly: the generic plugin would add a discovery request), TLS, the
proxy and its no_proxy from the settings (neither cron nor apt passes a proxy environment), the
rate-limit retry adapter and its pool size, the token cache, and secret masking (the token and the
proxy's password are registered with the redactor the moment they are known, so no output can
carry them).
"""

import base64
import urllib.parse
import urllib.request

import requests
from keystoneauth1 import session as ksa_session
from keystoneauth1.identity import v3

from .. import __version__
from ..log import log, redactor
from . import retry, token_cache
from .client import Cloud
from .credentials import APPLICATION_CREDENTIAL


def _auth_plugin(credentials):
    kwargs = credentials.auth_kwargs()
    if credentials.auth_type == APPLICATION_CREDENTIAL:
        return v3.ApplicationCredential(**kwargs)
    return v3.Password(**kwargs)


class ProxiedSession(requests.Session):
    """A requests.Session that sends through `proxy` every request but those to a host of
    `no_proxy`. requests itself reads no_proxy only from the environment (which neither cron nor
    apt passes), never from Session.proxies, so the choice is made here, per request (redirects
    included)."""

    def __init__(self, proxy, no_proxy=""):
        super().__init__()
        self.proxies = {"http": proxy, "https": proxy}
        # curl's list is comma-separated; people also write spaces
        self.no_proxy = ",".join(no_proxy.replace(",", " ").split())

    def send(self, request, **kwargs):
        kwargs["proxies"] = {} if bypasses_proxy(request.url, self.no_proxy) else dict(self.proxies)
        return super().send(request, **kwargs)


def bypasses_proxy(url, no_proxy):
    """Whether `url` goes direct: its host (any port), its host:port, a domain it is in (with or
    without a leading dot), an IPv4 network (CIDR) holding it, or `*`. requests' own helpers and
    urllib's matcher, given the list as an argument: requests.utils.should_bypass_proxies would
    set os.environ["no_proxy"] around each call (a race between fleet threads) and drops the port
    of an IP address."""
    if not no_proxy:
        return False
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return False
    entries = no_proxy.split(",")
    if requests.utils.is_ipv4_address(host) and any(
            requests.utils.is_valid_cidr(entry) and requests.utils.address_in_network(host, entry)
            for entry in entries):
        return True
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return urllib.request.proxy_bypass_environment(f"{host}:{port}" if port else host,
                                                   {"no": no_proxy})


def proxy_password(url):
    """The password of a proxy URL, as written ("" for none)."""
    return _split(url).netloc.rpartition("@")[0].partition(":")[2]


def proxy_secrets(url):
    """What of a proxy URL is secret: its user:password (as written, decoded, and as the
    Proxy-Authorization header carries it) and the password alone. A user name alone is not
    (masking a name such as "proxy" would blank that word in every line)."""
    userinfo = _split(url).netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    if not password:
        return ()
    plain = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    return tuple(value for value in (
        userinfo, plain, base64.b64encode(plain.encode()).decode(),
        password, urllib.parse.unquote(password)) if value)


def shown_proxy(url):
    """The proxy URL as output may show it: its user:password masked (registered too, so a
    library's message that quotes the URL is masked on the way out)."""
    redactor.add(*proxy_secrets(url))
    scheme, netloc, *rest = _split(url)
    if "@" not in netloc:
        return url
    return urllib.parse.urlunsplit((scheme, "***@" + netloc.rpartition("@")[2], *rest))


def _split(url):
    # requests takes "user:pw@proxy:3128" as http://; urlsplit would take "user" for a scheme
    return urllib.parse.urlsplit(url if "://" in url else "http://" + url)


def make_session(credentials, settings, pool_size=retry.POOL_SIZE):
    if settings.https_proxy:
        redactor.add(*proxy_secrets(settings.https_proxy))     # before any request can fail
        http = ProxiedSession(settings.https_proxy, settings.no_proxy)
    else:
        http = requests.Session()
    http = retry.mount(http, pool_size=pool_size)    # 429 and Retry-After waited out
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
