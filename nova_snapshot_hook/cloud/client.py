"""The edge to OpenStack: the calls the tool makes, Nova through novaclient, Glance and Cinder
through keystoneauth adapters, on one session that cloud/session.py builds. Cinder is asked only
about volume-backed backups, so a cloud without it serves every image-backed server.

Plain data out: every call returns dicts and lists as the APIs' JSON has them (a server is Nova's
dict, "OS-EXT-STS:task_state" a key of it), strings, booleans or None; no novaclient or
keystoneauth object leaves this module. Every failure leaves it as a HookError whose line names
the cause and the file or key to fix: a refusal or error of the cloud, no answer, an answer that
is not JSON, a flavor name that is not unique.

Imported only when a request is really made: keystoneauth1 and novaclient cost 10-15 interpreter
start-ups (doc/hook-speed.md).
"""

import contextlib
import os
import re
import socket
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from keystoneauth1 import adapter, exceptions as ksa
from novaclient import client as nova_client, exceptions as nova_exc
from requests import exceptions as requests_exc
from urllib3 import exceptions as urllib3_exc

from ..api_versions import IMAGE_PATCH, MICROVERSION
from .credentials import APPLICATION_CREDENTIAL
from ..errors import (AccessRuleRefused, ActionRefused, CloudError, CredentialsError, HookError,
                      IdentityError)
from ..rules import access, naming



class Cloud:
    """The Nova, Glance and Cinder calls of the tool: plain data (dicts, lists, strings, None)
    out, a HookError for every failure."""

    def __init__(self, credentials, session):
        self.credentials = credentials
        self.session = session
        where = dict(region_name=credentials.region_name or None, interface=credentials.interface)
        self.nova = nova_client.Client(MICROVERSION, session=self.session,
                                       endpoint_type=credentials.interface,
                                       region_name=credentials.region_name or None)
        self.glance = adapter.Adapter(self.session, service_type="image", **where)
        # keystoneauth matches the catalog's aliases too (volumev3, volume)
        self.cinder = adapter.Adapter(self.session, service_type="block-storage", **where)

    # -- Nova -------------------------------------------------------------------------------
    def get_server(self, server_id):
        """The server (GET /servers/{id}) as Nova's dict: "OS-EXT-STS:task_state", "status",
        "image" ("" when it boots from a volume), "os-extended-volumes:volumes_attached", ..."""
        with self.translated("reading server " + server_id):
            try:
                return self.nova.servers.get(server_id).to_dict()
            except nova_exc.NotFound:
                raise IdentityError(
                    f"server {server_id} does not exist in the project of {self.credentials.source}",
                    fix="set [server] id in the settings to this VM's id, or leave it empty to detect it",
                ) from None

    def list_servers(self, **filters):
        """Every server of the project that Nova returns for the filters (GET /servers/detail,
        e.g. tags="a,b"), following Nova's pages (`servers_links`), as dicts (with `tags`: the
        microversion is >= 2.26)."""
        servers, query = [], filters
        with self.translated("listing the project's servers"):
            while True:
                path = "/servers/detail" + (f"?{urlencode(sorted(query.items()))}" if query else "")
                _, body = self.nova.client.get(path)
                page = (body or {}).get("servers", [])
                servers += page
                following = [link.get("href") for link in (body or {}).get("servers_links", [])
                             if link.get("rel") == "next"]
                if not page or not following:
                    return servers
                # Keep our catalog endpoint; take only the page's query (the marker) from the link.
                query = dict(parse_qsl(urlsplit(following[0]).query))

    def execute(self, call):
        """Send one text.Call exactly as a dry run prints it: its method, path and body, to
        Nova (at MICROVERSION) or Glance (a JSON patch). Returns (the answer's JSON or {}, the
        request id Nova's instance actions know it by). Nova's 400 and 409 to a server action
        are ActionRefused: the caller decides to fall back or to wait."""
        doing = describe(call)
        with self.translated(doing):
            if call.service == "compute":
                try:
                    response, answer = self.nova.client.request(call.path, call.method,
                                                                body=call.body)
                except nova_exc.ClientException as err:
                    if err.code in (400, 409) and call.path.endswith("/action"):
                        raise ActionRefused(f"{doing}: HTTP {err.code} {_first_line(err.message)}",
                                            status=err.code, detail=str(err.message)) from None
                    raise
            elif call.service == "image":
                headers = {"Content-Type": IMAGE_PATCH} if call.method == "PATCH" else {}
                response = self.glance.request(call.path, call.method, json=call.body,
                                               headers=headers)
                answer = response.json() if response.content else {}
            else:
                raise CloudError(f"{doing}: no such service in this tool's calls",
                                 fix="a bug: report it")
        request_id = response.headers.get("x-openstack-request-id") or response.headers.get(
            "x-compute-request-id")
        return answer or {}, request_id

    def action_failed(self, server_id, request_id):
        """Whether the instance action of our request reports an error (None if unknown)."""
        if not request_id:
            return None
        with self.translated("reading the instance action " + request_id):
            try:
                action = self.nova.instance_action.get(server_id, request_id)
            except nova_exc.NotFound:
                return None
        return getattr(action, "message", None) not in (None, "")

    def instance_actions(self, server_id):
        """The server's instance actions (GET /servers/{id}/os-instance-actions), as dicts."""
        with self.translated("listing the instance actions of server " + server_id):
            return [action.to_dict() for action in self.nova.instance_action.list(server_id)]

    def server_interfaces(self, server_id):
        """The server's ports (GET /servers/{id}/os-interface), as dicts; [] when it has none."""
        with self.translated("listing the network ports of server " + server_id):
            try:
                return [port.to_dict() for port in self.nova.servers.interface_list(server_id)]
            except nova_exc.NotFound:
                return []

    def flavor_id(self, flavor):
        """The id of a flavor given by id or by name."""
        with self.translated("looking up flavor " + flavor):
            try:
                return self.nova.flavors.get(flavor).id
            except nova_exc.NotFound:
                pass
            try:
                return self.nova.flavors.find(name=flavor).id
            except nova_exc.NotFound:
                raise CloudError(f"no flavor '{flavor}' in this cloud",
                                 fix="give --flavor an id or name that 'openstack flavor list' "
                                     "shows") from None
            except nova_exc.NoUniqueMatch:
                raise CloudError(f"more than one flavor is named '{flavor}'",
                                 fix="give --flavor the id that 'openstack flavor list' shows"
                                 ) from None

    def compute_limits(self):
        """Nova's absolute limits and usage (GET /limits): {"maxTotalInstances": 10, ...}."""
        with self.translated("reading the compute limits"):
            return dict(self.nova.limits.get().to_dict().get("absolute", {}))

    def whoami(self):
        """Authenticate (a token) and say as whom; the token itself is never returned."""
        with self.translated("authenticating"):
            access = self.session.auth.get_access(self.session)
        return {"user": access.username, "user_id": access.user_id,
                "project": access.project_name, "project_id": access.project_id,
                "expires": access.expires.strftime("%Y-%m-%dT%H:%M:%SZ") if access.expires else None,
                # Keystone puts the application credential's access rules in the token itself:
                # no request, no rule needed to read them
                "application_credential": _application_credential(access)}

    def application_credential(self):
        """The application credential the token was made with, as Keystone keeps it (GET
        /v3/users/{user}/application_credentials/{id}, one request): "id", "name", "expires_at"
        (None: it never expires)...; None when the credentials are a password. The secret is
        never in it. Only `check` and `status` ask: the apt hook and scheduled runs stay cheap."""
        who = self.whoami()
        credential = who["application_credential"]
        if not credential:
            return None
        # The catalog's Keystone, as the access rule names it; the auth URL where none is listed
        base = (self.endpoints().get("identity") or (None, self.credentials.auth_url))[1]
        url = (f"{access.identity_api(base)}/users/{quote(who['user_id'] or '', safe='')}"
               f"/application_credentials/{quote(credential.get('id') or '', safe='')}")
        with self.translated(f"reading application credential {credential.get('id')}"):
            try:
                found = self.session.get(url).json()
            except ksa.NotFound as err:
                if not _no_such_credential(err):
                    raise           # another 404 (a wrong endpoint): said as any other
                raise self.credential_gone(credential.get("id")) from None
        found = found.get("application_credential") if isinstance(found, dict) else None
        if not isinstance(found, dict) or "expires_at" not in found:
            raise CloudError(f"Keystone's answer about application credential "
                             f"{credential.get('id')} has no expires_at",
                             fix="check the catalog's identity endpoint and [cloud] https_proxy "
                                 "in the settings: something else answers for Keystone")
        return found

    def project_id(self):
        """The id of the credentials' project, from the token (authenticating if need be)."""
        with self.translated("reading the project id"):
            return self.session.get_project_id()

    def endpoints(self):
        """{our service name: (catalog type, URL)} from the token's catalog; no request."""
        with self.translated("reading the service catalog"):
            catalog = self.session.auth.get_access(self.session).service_catalog.catalog
        return access.pick_endpoints(catalog, self.credentials.interface,
                                     self.credentials.region_name)

    # -- Glance -----------------------------------------------------------------------------
    def get_image(self, image_id):
        """The image as a dict, or None when Glance has no such image."""
        with self.translated("reading image " + image_id):
            try:
                return self.glance.get(f"/v2/images/{image_id}").json()
            except ksa.NotFound:
                return None

    def list_images(self, **filters):
        """Every image matching the exact-match filters, following Glance's pages."""
        images, url, params = [], "/v2/images", dict(filters, limit=100)
        with self.translated("listing images"):
            while url:
                page = self.glance.get(url, params=params).json()
                images.extend(page.get("images", []))
                url, params = self.next_page(self.glance, "Glance", page.get("next")), None
        return images

    def delete_image(self, image_id):
        with self.translated("deleting image " + image_id):
            try:
                self.glance.delete(f"/v2/images/{image_id}")
            except ksa.NotFound:
                pass

    def remove_image_properties(self, image_id, keys):
        patch = [{"op": "remove", "path": "/" + key} for key in keys]
        with self.translated("updating image " + image_id):
            self.glance.patch(f"/v2/images/{image_id}", json=patch,
                              headers={"Content-Type": IMAGE_PATCH})

    def set_image_properties(self, image_id, properties):
        patch = [{"op": "add", "path": "/" + key, "value": value} for key, value in properties.items()]
        with self.translated("updating image " + image_id):
            self.glance.patch(f"/v2/images/{image_id}", json=patch,
                              headers={"Content-Type": IMAGE_PATCH})

    def patch_image(self, image_id, patch, doing="updating image"):
        """One JSON patch, applied by Glance whole or not at all; the updated image."""
        with self.translated(f"{doing} {image_id}"):
            return self.glance.patch(f"/v2/images/{image_id}", json=patch,
                                     headers={"Content-Type": IMAGE_PATCH}).json()

    def image_usage(self):
        """Glance's quota usage (GET /v2/info/usage): {name: {"usage": n, "limit": n}}; {} when the
        cloud does not report it (no unified limits, or a Glance older than the call)."""
        with self.translated("reading the image quota"):
            try:
                return dict(self.glance.get("/v2/info/usage").json().get("usage") or {})
            except ksa.NotFound:
                return {}

    # -- Cinder ----------------------------------------------------------------------------
    def has_volume_service(self):
        """Whether the catalog lists Cinder (a cloud may have none)."""
        with self.translated("reading the service catalog"):
            try:
                return bool(self.cinder.get_endpoint())
            except ksa.EndpointNotFound:
                return False

    def volume_snapshots(self):
        """Every volume snapshot of the project with its details (GET /snapshots/detail)."""
        snapshots, url = [], "/snapshots/detail"
        with self.translated("listing the volume snapshots", cinder=True):
            while url:
                page = self.cinder.get(url).json()
                snapshots.extend(page.get("snapshots", []))
                url = self.next_page(self.cinder, "Cinder", next(
                    (link.get("href") for link in page.get("snapshots_links") or []
                     if isinstance(link, dict) and link.get("rel") == "next"), None))
        return snapshots

    def delete_volume_snapshot(self, snapshot_id):
        """Ask Cinder to delete the snapshot (it goes on in the background); gone already is fine."""
        snapshot_id = _cinder_id(snapshot_id, "volume snapshot")
        with self.translated("deleting volume snapshot " + snapshot_id, cinder=True):
            try:
                self.cinder.delete(f"/snapshots/{snapshot_id}")
            except ksa.NotFound:
                pass

    def mark_volume_snapshot(self, snapshot_id, metadata):
        """Add metadata keys to a snapshot (POST /snapshots/{id}/metadata keeps the others)."""
        snapshot_id = _cinder_id(snapshot_id, "volume snapshot")
        with self.translated("marking volume snapshot " + snapshot_id, cinder=True):
            self.cinder.post(f"/snapshots/{snapshot_id}/metadata", json={"metadata": metadata})

    def volumes(self, volume_ids):
        """The named volumes as dicts (GET /volumes/{id}); a volume gone meanwhile is left out."""
        found = []
        volume_ids = [_cinder_id(volume_id, "volume") for volume_id in volume_ids]
        with self.translated("reading the server's volumes", cinder=True):
            for volume_id in volume_ids:
                try:
                    found.append(self.cinder.get(f"/volumes/{volume_id}").json()["volume"])
                except ksa.NotFound:
                    pass
        return found

    def volume_limits(self):
        """Cinder's absolute limits and usage (GET /limits): {"maxTotalSnapshots": 10, ...}."""
        with self.translated("reading the volume quota", cinder=True):
            return dict(self.cinder.get("/limits").json().get("limits", {}).get("absolute", {}))

    def next_page(self, service, name, link):
        """The URL of a listing's next page, or None at the last one. A link is followed only on
        the catalog's own endpoint: keystoneauth sends the token to any absolute URL."""
        if not link:
            return None
        endpoint = service.get_endpoint()
        url = page_link(link, endpoint)
        if url is None:
            raise CloudError(f"{name}'s next-page link {_first_line(link)[:200]} is not on its "
                             f"catalog endpoint {endpoint}: not followed, the token would go "
                             "with it",
                             fix=f"ask the cloud's operators to make {name} link its pages on "
                                 "the endpoint of the catalog (its public_endpoint setting)")
        return url

    # -- errors -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def translated(self, doing, cinder=False):
        """Turn library exceptions into one line naming the cause and what to fix."""
        source = self.credentials.source
        try:
            yield
        except (CloudError, IdentityError, CredentialsError):
            raise
        except ksa.SSLError:
            key = self.credentials.setting_name
            raise CloudError(f"{doing}: the TLS handshake or certificate check failed for "
                             f"{self.credentials.auth_url} or a service endpoint",
                             fix=f"check {key('OS_AUTH_URL')} (https?) and set {key('OS_CACERT')} "
                                 f"in {self.credentials.place} to the cloud's CA bundle") from None
        # ConnectTimeout: keystoneauth's name for any requests timeout, reading included
        except (ksa.ConnectTimeout, ksa.ConnectFailure, ksa.UnknownConnectionError) as err:
            raise self.unreachable(doing, err) from None
        except ksa.Unauthorized as err:
            self.refused_by_rules(doing, err.method, err.url)
            if self.credentials.auth_type == APPLICATION_CREDENTIAL and _authenticating(doing, err):
                # Keystone says no more (expiry, a wrong secret and a disabled user look alike)
                named = self.credentials.application_credential_id or \
                    self.credentials.application_credential_name
                raise CredentialsError(
                    f"{doing}: Keystone refused application credential {named} (HTTP 401): it "
                    "has expired, its secret is wrong, or its user or project is disabled",
                    fix=self.replace_credential_fix()) from None
            raise CredentialsError(f"{doing}: the cloud refused the credentials (HTTP 401)",
                                   fix=f"check the user, password or application credential in {source}"
                                   ) from None
        except ksa.EndpointNotFound:
            key = self.credentials.setting_name
            raise CloudError(f"{doing}: the catalog has no {'block-storage (Cinder) ' if cinder else ''}"
                             f"endpoint for region "
                             f"'{self.credentials.region_name or '(any)'}' and interface "
                             f"'{self.credentials.interface}'",
                             fix=f"check {key('OS_REGION_NAME')} and {key('OS_INTERFACE')} in "
                                 f"{self.credentials.place}") from None
        except (ksa.RequestTimeout, ksa.GatewayTimeout) as err:
            raise CloudError(f"{doing}: the cloud did not answer in time ({_first_line(err)})",
                             fix="retry later, or raise [cloud] api_timeout in the settings") from None
        except ksa.HttpError as err:
            if self.credentials.auth_type == APPLICATION_CREDENTIAL \
                    and _authenticating(doing, err) and _no_such_credential(err):
                named = self.credentials.application_credential_id or \
                    self.credentials.application_credential_name
                raise self.credential_gone(named) from None
            raise CloudError(f"{doing}: HTTP {err.http_status} {_first_line(err.message)}",
                             fix=_fix_for_status(err.http_status, source)) from None
        except nova_exc.ClientException as err:
            if err.code == 401:
                self.refused_by_rules(doing, getattr(err, "method", None), getattr(err, "url", None))
            raise CloudError(f"{doing}: HTTP {err.code} {_first_line(err.message)}",
                             fix=_fix_for_status(err.code, source)) from None
        except ksa.ClientException as err:
            raise CloudError(f"{doing}: {_first_line(err)}", fix=f"check {source}") from None
        except requests_exc.JSONDecodeError:    # Glance's or Cinder's (novaclient reads leniently)
            raise CloudError(f"{doing}: the cloud's answer is not JSON",
                             fix="check the catalog's endpoints and [cloud] https_proxy in the "
                                 "settings: something else answers for the service") from None

    def unreachable(self, doing, err):
        """keystoneauth's error for a connection that failed or timed out, as one line: the host
        and port it was to and the OS's reason, dug out of the exceptions behind it (requests',
        urllib3's, the socket's), whose own texts hold object reprs and whole URLs."""
        chain = _chain(err)
        peer, why = _peer(chain), _os_reason(chain)
        proxy = any(isinstance(cause, requests_exc.ProxyError) for cause in chain)
        where = ("the proxy " if proxy else "") + (peer or "the cloud")
        key, place = self.credentials.setting_name, self.credentials.place
        if any(isinstance(cause, requests_exc.ReadTimeout) for cause in chain):
            after = f" after {self.session.timeout:g} s" if self.session.timeout else ""
            return CloudError(f"{doing}: {where} did not answer in time (timed out{after})",
                              fix="check the cloud and the network, or raise [cloud] api_timeout "
                                  "in the settings")
        if any(isinstance(cause, urllib3_exc.ProtocolError) for cause in chain):
            line = f"{doing}: lost the connection to {where} ({why or _plain(err)})"
        elif why:
            line = f"{doing}: cannot reach {where} ({why})"
        else:       # too many redirects, a URL requests refuses...: no socket error behind it
            line = f"{doing}: the request to {where} failed ({_plain(err)})"
        if proxy:
            fix = "check [cloud] https_proxy in the settings, and that the proxy runs"
        elif peer is None or peer == _host_port(self.credentials.auth_url):
            fix = (f"check {key('OS_AUTH_URL')} in {place}, the network, or [cloud] https_proxy "
                   "in the settings")
        else:       # a service's endpoint, as the token's catalog names it
            fix = (f"the service catalog names {peer}: check the network, [cloud] https_proxy in "
                   f"the settings, or {key('OS_INTERFACE')} in {place}")
        return CloudError(line, fix=fix)

    def credential_gone(self, credential_id):
        return CredentialsError(f"Keystone has no application credential {credential_id} "
                                "(HTTP 404): it was deleted", fix=self.replace_credential_fix())

    def replace_credential_fix(self):
        return (f"make a new application credential and put its id and secret in "
                f"{self.credentials.place}: 'nova-snapshot-hook access-rules' prints the command "
                "that makes a restricted one (nova-snapshot-hook-access-rules(8))")

    def refused_by_rules(self, doing, method, url):
        """A service's 401 to an application credential, after a fresh token, is its access
        rules (keystonemiddleware fails closed): raise naming the rule that is missing."""
        if self.credentials.auth_type != APPLICATION_CREDENTIAL or not (method and url) \
                or _authenticating(doing, url=url):
            return
        try:
            endpoints = self.endpoints()
            if "://" not in url and "compute" in endpoints:   # novaclient names the path only
                url = endpoints["compute"][1].rstrip("/") + url
            missing = access.request_rule(endpoints, method, url)
        except HookError:
            missing = None
        if missing is None:
            return
        raise AccessRuleRefused(
            f"{doing}: not allowed by this credential's access rules (HTTP 401; no rule "
            f"{access.describe(missing)})", rule=missing,
            fix="'nova-snapshot-hook access-rules' prints the rules this server needs") from None


def describe(call):
    """What a Call does, for the error line: "rebuild of server ID", "POST /servers"..."""
    body = call.body if isinstance(call.body, dict) else {}
    if call.path.endswith("/action") and len(body) == 1:
        server_id = call.path.split("/")[-2]
        return f"{next(iter(body))} of server {server_id}"
    if call.path == "/servers" and "server" in body:
        return f"creating server {body['server'].get('name')}"
    if call.service == "image" and call.method == "PATCH":
        return "updating image " + call.path.rsplit("/", 1)[-1]
    return f"{call.method} {call.path}"


def _cinder_id(value, what):
    """`value`, when it is a UUID: an id read from the cloud is never put into a URL path as
    anything else (`../volumes/ID` reaches DELETE /volumes/ID)."""
    if not naming.is_uuid(value):
        raise CloudError(f"refused to send {what} id {_first_line(repr(value))[:80]} to Cinder: "
                         "not a UUID", fix="an image's block_device_mapping or the cloud's answer "
                         "holds a forged id: look at who changed it")
    return value


_DOT_SEGMENT = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)", re.IGNORECASE)


def page_link(link, endpoint):
    """The absolute URL of a page link when it stays on `endpoint` (same scheme, host, port, and
    below its path), else None. A link without scheme or host is a path below the endpoint, as
    keystoneauth reads it (Glance's `next` is one). Pure: for every paginated listing."""
    if not isinstance(link, str) or not isinstance(endpoint, str):
        return None
    base = urlsplit(endpoint)
    try:
        parts = urlsplit(link)
        if not parts.scheme and not parts.netloc:
            parts = urlsplit(endpoint.rstrip("/") + "/" + link.lstrip("/"))
        if (parts.scheme.lower(), parts.hostname, parts.port or _PORTS.get(parts.scheme.lower())) \
                != (base.scheme.lower(), base.hostname,
                    base.port or _PORTS.get(base.scheme.lower())):
            return None
    except ValueError:          # a port that is not a number
        return None
    prefix = base.path.rstrip("/") + "/"
    if parts.username is not None or parts.password is not None or \
            not parts.path.startswith(prefix) or _DOT_SEGMENT.search(parts.path) or "\\" in link:
        return None
    return parts.geturl()


_PORTS = {"http": 80, "https": 443}


def _authenticating(doing, err=None, url=None):
    """Whether the request was the token request itself (also when keystoneauth authenticates
    again in the middle of another call): no access rule covers it, Keystone answers it."""
    url = url or getattr(err, "url", None) or ""
    return doing == "authenticating" or urlsplit(url).path.rstrip("/").endswith("/auth/tokens")


def _no_such_credential(err):
    """Keystone's 404 for a deleted application credential ("Could not find Application
    Credential: ID."), to the token request too; not a 404 of a wrong URL."""
    return getattr(err, "http_status", None) == 404 and \
        "application credential" in str(getattr(err, "message", "")).lower()


def _application_credential(access):
    """The token's application credential: {"id", "name", "restricted", "access_rules"?}."""
    try:
        return dict(access.application_credential)
    except (KeyError, AttributeError):
        return None


def _first_line(value, most=300):
    """The first line of `value`'s text, cut after a whole word when longer than `most`."""
    text = str(value).strip()
    if not text:
        return type(value).__name__
    line = text.splitlines()[0]
    return line if len(line) <= most else line[:most].rsplit(" ", 1)[0] + "..."


_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-fA-F]+>:? ?")


def _plain(err):
    """An error's first line without the object reprs (`<...HTTPConnection object at 0x7f...>`)
    that urllib3 puts into its texts."""
    return _first_line(_OBJECT_REPR.sub("", str(err)), most=200)


def _chain(err):
    """`err` and every exception behind it, nearest first: causes, contexts, and those that
    requests and urllib3 keep in their arguments (MaxRetryError's reason, ProxyError's error)."""
    found, waiting = [], [err]
    while waiting:
        current = waiting.pop(0)
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        waiting += [current.__cause__, current.__context__, getattr(current, "reason", None),
                    *current.args]
    return found


def _os_reason(chain):
    """The OS's words for why the connection failed: "connection refused", "name not known",
    "timed out", ...; None when no socket error is behind it."""
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            if cause.errno == socket.EAI_NONAME:
                return "name not known"
            return _lowered(cause.strerror or str(cause))        # "temporary failure in ..."
    if any(isinstance(cause, (TimeoutError, requests_exc.Timeout)) for cause in chain):
        return "timed out"          # socket.timeout is TimeoutError, and has no errno
    for cause in chain:
        # requests' own exceptions are OSErrors too, with urllib3's long text
        if isinstance(cause, OSError) and not isinstance(cause, requests_exc.RequestException):
            if cause.errno:
                return _lowered(os.strerror(cause.errno))
            if str(cause):                                      # http.client.RemoteDisconnected
                return _lowered(_first_line(cause, most=100))
    return None


def _lowered(text):
    return text[:1].lower() + text[1:]


def _peer(chain):
    """"host:port" of the connection that failed: urllib3's connection (a proxy's, when the
    proxy failed) or pool, the innermost known, else the request's URL; None if none is known."""
    peer = None
    for cause in chain:
        # urllib3 2 keeps the connection in `conn` (its `pool` warns), 1.26 in `pool`;
        # ConnectTimeoutError takes it as its first argument
        for holder in (vars(cause).get("conn"), vars(cause).get("pool"), *cause.args[:1]):
            host, port = getattr(holder, "host", None), getattr(holder, "port", None)
            if isinstance(host, str) and host and isinstance(port, int):
                peer = _joined(host, port)
    if peer is None:
        for cause in chain:
            request = vars(cause).get("request")
            if getattr(request, "url", None):
                return _host_port(request.url)
    return peer


def _host_port(url):
    """"host:port" of a URL, the scheme's port if it names none; None for a URL without a host."""
    try:
        parts = urlsplit(url)
        port = parts.port or _PORTS.get(parts.scheme.lower())
    except ValueError:          # a port that is not a number
        return None
    return _joined(parts.hostname, port) if parts.hostname and port else None


def _joined(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _fix_for_status(status, source):
    if status == 401:
        return f"check the credentials in {source}"
    if status == 403:
        return ("the cloud's policy or quota refuses this: the user needs the member role on the "
                f"server's project ({source}), or free image quota")
    if status in (413, 429):
        return "the image quota or rate limit is reached: delete old images or ask for more quota"
    if status >= 500:
        return "the cloud failed: retry later, or ask its operators"
    return "see the cloud's message"
