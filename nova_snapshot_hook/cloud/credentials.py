"""The credentials: the conffile (paths.CREDENTIALS), a clouds.yaml cloud, or OS_* variables.

The conffile holds the lines of the "OpenStack RC file" users download from Horizon. It is parsed,
never run by a shell: a hook that sources a root-owned file of arbitrary shell would run whatever
the file says, from apt and cron. Every message names the file, line or key to fix and never a value,
because values may be secrets.

Precedence (doc/decisions.md): the conffile wins. OS_* variables are used only when the
conffile holds no credentials, or when the caller asks for them explicitly, so that `sudo -E apt` cannot
silently point the hook at another cloud.
"""

import os
import re
import stat
from dataclasses import fields, make_dataclass

from ..errors import CredentialsError
from ..paths import CREDENTIALS

# The standard clouds.yaml search order also has ./clouds.yaml and ~/.config/openstack/. They are left
# out on purpose: the hook runs from apt, cron and sudo, each with another cwd and HOME, and must find
# the same cloud every time. OS_CLIENT_CONFIG_FILE (in the conffile) names any other place.
CLOUDS_SEARCH = ("/etc/openstack/clouds.yaml",)

PASSWORD = "v3password"
APPLICATION_CREDENTIAL = "v3applicationcredential"
_AUTH_TYPES = {
    PASSWORD: PASSWORD, "password": PASSWORD,
    APPLICATION_CREDENTIAL: APPLICATION_CREDENTIAL, "applicationcredential": APPLICATION_CREDENTIAL,
    "application_credential": APPLICATION_CREDENTIAL, "v3_application_credential": APPLICATION_CREDENTIAL,
}
_INTERFACES = ("public", "internal", "admin")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Like the openstack command line clients: a user or project named without a domain is in "default".
DEFAULT_DOMAIN_ID = "default"
SECRET_FIELDS = ("password", "application_credential_secret")


class CredentialsNotConfigured(CredentialsError):
    """No credentials anywhere yet: scheduled runs stay silent (doc/decisions.md, Defaults)."""


# The optional text fields, in keystoneauth's names (an openrc spells each OS_<NAME>).
USER_FIELDS = ("username", "user_id", "password", "user_domain_name", "user_domain_id")
PROJECT_FIELDS = ("project_name", "project_id", "project_domain_name", "project_domain_id")
APPLICATION_CREDENTIAL_FIELDS = ("application_credential_id", "application_credential_name",
                                 "application_credential_secret")
# cacert is always None when verify is False: "insecure" wins, as in the clients.
ENDPOINT_FIELDS = ("region_name", "cacert", "cert", "key")
OPTIONAL_TEXT = USER_FIELDS + PROJECT_FIELDS + APPLICATION_CREDENTIAL_FIELDS + ENDPOINT_FIELDS


class _CredentialsBehaviour:
    def secrets(self):
        """The secret values, for a logging filter that redacts them."""
        return tuple(v for v in (getattr(self, name) for name in SECRET_FIELDS) if v)

    def __repr__(self):
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown.append(f"{f.name}={'***' if f.name in SECRET_FIELDS and value else value!r}")
        return f"Credentials({', '.join(shown)})"

    __str__ = __repr__

    def setting_name(self, name):
        """The OS_* variable `name` as the user writes it where these credentials come from: the
        variable itself, or a clouds.yaml key (clouds.NAME.auth.auth_url)."""
        return f"clouds.{self.cloud}.{_CLOUD_SPELLING.get(name, name)}" if self.cloud else name

    @property
    def place(self):
        """The file (or the environment) where setting_name() is set."""
        return self.clouds_file if self.cloud else _where(self.source)

    def auth_kwargs(self):
        """Keyword arguments for keystoneauth1.identity.v3.Password or v3.ApplicationCredential."""
        if self.auth_type == APPLICATION_CREDENTIAL:
            if self.application_credential_id:        # the id alone names the user and the project
                kwargs = {"application_credential_id": self.application_credential_id}
            else:
                kwargs = {"application_credential_name": self.application_credential_name,
                          **self._user_kwargs()}
            kwargs["application_credential_secret"] = self.application_credential_secret
        else:
            kwargs = {**self._user_kwargs(), "password": self.password, **self._project_kwargs()}
        return {"auth_url": self.auth_url, **kwargs}

    def _user_kwargs(self):
        if self.user_id:                               # ids are unique across domains
            return {"user_id": self.user_id}
        return {"username": self.username,
                **_domain("user", self.user_domain_id, self.user_domain_name)}

    def _project_kwargs(self):
        if self.project_id:
            return {"project_id": self.project_id}
        return {"project_name": self.project_name,
                **_domain("project", self.project_domain_id, self.project_domain_name)}


# Who we are to Keystone: auth_type and auth_url, the optional text fields (each text or None),
# the interface, whether TLS is verified, and where it all came from (for messages): `cloud` and
# `clouds_file` name a clouds.yaml cloud, whose keys messages name instead of OS_* variables.
Credentials = make_dataclass(
    "Credentials",
    [("auth_type", str), ("auth_url", str), *((name, "str | None", None) for name in OPTIONAL_TEXT),
     ("interface", str, "public"), ("verify", bool, True), ("source", str, ""), ("cloud", str, ""),
     ("clouds_file", str, "")],
    bases=(_CredentialsBehaviour,), frozen=True, repr=False)


def _domain(prefix, domain_id, domain_name):
    if domain_id:
        return {f"{prefix}_domain_id": domain_id}
    if domain_name:
        return {f"{prefix}_domain_name": domain_name}
    return {f"{prefix}_domain_id": DEFAULT_DOMAIN_ID}


# ---------------------------------------------------------------- the openrc lines, without a shell

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ASSIGNMENT = re.compile(rf"({_NAME})=")
_PROMPT_VARIABLE = "OS_PASSWORD_INPUT"
_PROMPT_REFERENCE = re.compile(r"\$(?:\{OS_PASSWORD_INPUT\}|OS_PASSWORD_INPUT(?![A-Za-z0-9_]))")
_EXPANSION_START = re.compile(r"\$[A-Za-z0-9_{(@*#?$!-]")
# Horizon's own conditional: `if [ -z "$OS_REGION_NAME" ]; then unset OS_REGION_NAME; fi`
_UNSET_IF_EMPTY = re.compile(
    rf'if \[\[? +-z +"?\$\{{?({_NAME})\}}?"? +\]\]? *; *then +unset +({_NAME}) *; *fi$')
_FIX_LINE = "keep only `export OS_NAME=value` lines and comments"


def parse_openrc(text, path):
    """Return the OS_* variables that the openrc text sets, as a shell would, but without running it."""
    variables, prompted = {}, {}
    for lineno, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        where = f"{path}:{lineno}"
        words = line.strip().split()
        if not words or words[0].startswith("#") or words[0] == "echo":
            continue                                  # comments, and the password prompt's text
        if line.rstrip().endswith("\\"):
            _bad_line(where, "continues on the next line, which is not supported")
        command = words[0]
        if command == "read":
            names = [w for w in words[1:] if not w.startswith("-")]
            if names != [_PROMPT_VARIABLE]:
                _bad_line(where, "reads input, which a hook cannot answer")
        elif command == "unset":
            for name in words[1:]:
                if name != "-v":
                    variables.pop(name, None)
                    prompted.pop(name, None)
        elif command == "if":
            match = _UNSET_IF_EMPTY.match(line.strip())
            if not match or match.group(1) != match.group(2):
                _bad_line(where, "is a shell conditional, which is not run here")
            if not variables.get(match.group(1)):
                variables.pop(match.group(1), None)
        else:
            name, value, from_prompt = _parse_assignment(line.strip(), where)
            if name is None:
                continue                              # `export OS_NAME` alone changes nothing here
            variables[name] = value
            prompted.pop(name, None)
            if from_prompt:
                prompted[name] = lineno
    if "OS_PASSWORD" in prompted:
        raise CredentialsError(
            f"{path}:{prompted['OS_PASSWORD']}: OS_PASSWORD comes from a password prompt "
            f"(read -sr {_PROMPT_VARIABLE}), which nobody can answer when the hook runs from apt or cron",
            fix=f"in {path}, write the password as export OS_PASSWORD='...' (single quotes) and delete "
                "the echo and read lines, or better use an application credential with the member role")
    return variables


def _bad_line(where, why):
    raise CredentialsError(f"{where}: this line {why}", fix=_FIX_LINE)


def _parse_assignment(line, where):
    if line.startswith("export") and line[6:7] in (" ", "\t"):
        line = line[6:].lstrip()
        if re.fullmatch(_NAME, line):
            return None, None, False
    match = _ASSIGNMENT.match(line)
    if not match:
        _bad_line(where, "is not an assignment")
    name = match.group(1)
    if not name.startswith("OS_"):
        raise CredentialsError(f"{where}: sets {name}, which is not an OS_* variable",
                               fix=f"delete that line; {_FIX_LINE}")
    value, from_prompt = _parse_value(line[match.end():], where, name)
    if from_prompt and name != "OS_PASSWORD":
        _refuse_expansion(where, name)
    return name, value, from_prompt


def _parse_value(text, where, name):
    """Unquote one shell word. Error messages name the variable, never the value: it may be a secret."""
    out, i, from_prompt = [], 0, False
    if text.startswith("~"):
        _refuse_expansion(where, name)
    while i < len(text):
        char = text[i]
        if char in " \t":
            rest = text[i:].lstrip()
            if rest and not rest.startswith("#"):
                raise CredentialsError(f"{where}: unexpected text after the value of {name}",
                                       fix=f"one assignment per line; quote values with spaces; {_FIX_LINE}")
            break
        if char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                _unterminated(where, name)
            out.append(text[i + 1:end])
            i = end + 1
        elif char == '"':
            i, prompt = _parse_double_quoted(text, i + 1, out, where, name)
            from_prompt = from_prompt or prompt
        elif char == "\\":
            out.append(text[i + 1:i + 2])
            i += 2
        elif char == "$" or char == "`":
            i, prompt = _expansion(text, i, out, where, name)
            from_prompt = from_prompt or prompt
        elif char in ";&|<>()":
            raise CredentialsError(f"{where}: the value of {name} is followed by a shell operator",
                                   fix=f"quote the value in single quotes; {_FIX_LINE}")
        else:
            out.append(char)
            i += 1
    return "".join(out), from_prompt


def _parse_double_quoted(text, i, out, where, name):
    from_prompt = False
    while i < len(text):
        char = text[i]
        if char == '"':
            return i + 1, from_prompt
        if char == "\\" and text[i + 1:i + 2] in ('"', "\\", "$", "`"):
            out.append(text[i + 1])
            i += 2
        elif char in "$`":
            i, prompt = _expansion(text, i, out, where, name)
            from_prompt = from_prompt or prompt
        else:
            out.append(char)
            i += 1
    _unterminated(where, name)


def _expansion(text, i, out, where, name):
    """A `$` or a backquote. Only Horizon's prompt variable is recognised; a lone `$` is literal, as in sh."""
    match = _PROMPT_REFERENCE.match(text, i)
    if match:
        return match.end(), True
    if text[i] == "$" and not _EXPANSION_START.match(text, i):
        out.append("$")
        return i + 1, False
    _refuse_expansion(where, name)


def _refuse_expansion(where, name):
    raise CredentialsError(
        f"{where}: the value of {name} uses shell expansion ($, ` or ~), which is not run here",
        fix="write the value itself, in single quotes; use absolute paths")


def _unterminated(where, name):
    raise CredentialsError(f"{where}: the quote in the value of {name} is not closed on that line",
                           fix="close the quote on the same line; values spanning lines are not supported")


# ---------------------------------------------------------------- from variables to Credentials

_FIELDS_FROM_VARS = {
    "OS_USERNAME": "username", "OS_USER_ID": "user_id", "OS_PASSWORD": "password",
    "OS_USER_DOMAIN_NAME": "user_domain_name", "OS_USER_DOMAIN_ID": "user_domain_id",
    "OS_PROJECT_NAME": "project_name", "OS_PROJECT_ID": "project_id",
    "OS_PROJECT_DOMAIN_NAME": "project_domain_name", "OS_PROJECT_DOMAIN_ID": "project_domain_id",
    "OS_APPLICATION_CREDENTIAL_ID": "application_credential_id",
    "OS_APPLICATION_CREDENTIAL_NAME": "application_credential_name",
    "OS_APPLICATION_CREDENTIAL_SECRET": "application_credential_secret",
    "OS_REGION_NAME": "region_name",
}
# Keystone v2 names that the v3 clients still accept for the project.
_LEGACY_PROJECT = {"OS_TENANT_NAME": "OS_PROJECT_NAME", "OS_TENANT_ID": "OS_PROJECT_ID"}


def credentials_from_vars(variables, source):
    """Validate OS_* variables (from an openrc file or the environment) into Credentials."""
    return _from_vars(variables, source, lambda key: key)


def _from_vars(variables, source, spell, **origin):
    """`spell` turns an OS_* name into the key the user has to edit in `source` (clouds.yaml differs);
    `origin`: the clouds.yaml cloud and file, if any (Credentials.setting_name)."""
    var = {k: str(v) for k, v in variables.items() if v is not None and str(v) != ""}   # empty is unset
    for old, new in _LEGACY_PROJECT.items():
        if old in var and new not in var:
            var[new] = var[old]

    def fail(message, key, fix=None):
        raise CredentialsError(f"{source}: {message}", fix=fix or f"set {spell(key)} in {_where(source)}")

    version = var.get("OS_IDENTITY_API_VERSION", "3")
    if version not in ("3", "3.0"):
        fail(f"{spell('OS_IDENTITY_API_VERSION')} is {version!r}; only the Identity API v3 exists today",
             "OS_IDENTITY_API_VERSION", f"set {spell('OS_IDENTITY_API_VERSION')} to 3 in {_where(source)}")
    if "OS_AUTH_URL" not in var:
        fail(f"no {spell('OS_AUTH_URL')}", "OS_AUTH_URL",
             f"set {spell('OS_AUTH_URL')} to the Keystone URL, e.g. https://keystone.example.com:5000/v3, "
             f"in {_where(source)}")
    auth_url = _v3_auth_url(var["OS_AUTH_URL"], lambda m: fail(m, "OS_AUTH_URL"), spell)
    auth_type = _auth_type(var, fail, spell)
    _require(var, auth_type, fail, spell)

    values = {field: var[key] for key, field in _FIELDS_FROM_VARS.items() if key in var}
    insecure = _boolean(var.get("OS_INSECURE", "false"),
                        lambda: fail(f"{spell('OS_INSECURE')} must be true or false", "OS_INSECURE"))
    if "OS_KEY" in var and "OS_CERT" not in var:
        fail(f"{spell('OS_KEY')} is set without {spell('OS_CERT')}", "OS_CERT")
    for key in ("OS_CACERT", "OS_CERT", "OS_KEY"):
        if key in var:
            _check_tls_file(var[key], lambda m, k=key: fail(f"{spell(k)} {m}", k,
                                                          f"correct {spell(k)} in {_where(source)}"),
                            what=spell(key), secret=key == "OS_KEY")
    return Credentials(
        auth_type=auth_type, auth_url=auth_url, **values,
        interface=_interface(var, fail, spell),
        cacert=None if insecure else var.get("OS_CACERT"), verify=not insecure,
        cert=var.get("OS_CERT"), key=var.get("OS_KEY"), source=source, **origin)


def _where(source):
    return "the environment (OS_* variables)" if source == "environment" else source


def _v3_auth_url(url, fail, spell):
    """keystoneauth's v3 plugins post to AUTH_URL/auth/tokens with no version discovery, so the URL must
    end in /v3; one without a version (https://host:5000) gets /v3 appended, v2.0 is refused."""
    if not re.match(r"https?://[^/\s]+", url):
        fail(f"{spell('OS_AUTH_URL')} is not an http:// or https:// URL")
    url = url.rstrip("/")
    last = url.rsplit("/", 1)[-1] if url.count("/") > 2 else ""
    if last.startswith("v2"):
        fail(f"{spell('OS_AUTH_URL')} points at the Keystone v2.0 API, which no longer exists")
    return url if re.fullmatch(r"v3(\.\d+)?", last) else url + "/v3"


def _auth_type(var, fail, spell):
    if "OS_AUTH_TYPE" in var:
        name = var["OS_AUTH_TYPE"].lower()
        if name not in _AUTH_TYPES:
            fail(f"{spell('OS_AUTH_TYPE')} {var['OS_AUTH_TYPE']!r} is not supported "
                 f"(use {PASSWORD} or {APPLICATION_CREDENTIAL})", "OS_AUTH_TYPE")
        return _AUTH_TYPES[name]
    has_application_credential = any(k.startswith("OS_APPLICATION_CREDENTIAL_") for k in var)
    if has_application_credential and "OS_PASSWORD" in var:
        fail(f"holds both {spell('OS_PASSWORD')} and an application credential", "OS_AUTH_TYPE",
             f"set {spell('OS_AUTH_TYPE')} to {APPLICATION_CREDENTIAL} or {PASSWORD}, "
             "or delete the other one")
    return APPLICATION_CREDENTIAL if has_application_credential else PASSWORD


def _require(var, auth_type, fail, spell):
    def need(*alternatives):
        if not any(key in var for key in alternatives):
            names = " or ".join(spell(k) for k in alternatives)
            fail(f"no {names} for {auth_type} authentication", alternatives[0])

    if auth_type == APPLICATION_CREDENTIAL:
        need("OS_APPLICATION_CREDENTIAL_SECRET")
        if "OS_APPLICATION_CREDENTIAL_ID" not in var:
            need("OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME")
            need("OS_USER_ID", "OS_USERNAME")         # a credential's name is unique per user only
    else:
        need("OS_USERNAME", "OS_USER_ID")
        need("OS_PASSWORD")
        need("OS_PROJECT_ID", "OS_PROJECT_NAME")      # an unscoped token sees no Nova


def _interface(var, fail, spell):
    key = "OS_INTERFACE" if "OS_INTERFACE" in var else "OS_ENDPOINT_TYPE"
    value = var.get(key, "public")
    interface = value[:-3] if value.endswith("URL") else value          # publicURL -> public
    if interface not in _INTERFACES:
        fail(f"{spell(key)} {value!r} is not one of {', '.join(_INTERFACES)}", key)
    return interface


def _boolean(value, fail):
    if str(value).lower() in _TRUE:
        return True
    if str(value).lower() in _FALSE:
        return False
    fail()


def _check_tls_file(path, fail, what, secret):
    # Cron and apt run in any directory, so a relative path would mean something different each time.
    if not os.path.isabs(path):
        fail("must be an absolute path")
    if not os.path.isfile(path):
        fail(f"names {path}, which does not exist")
    # Whoever can write the CA bundle can put their own CA in it and read every request, the
    # password's included; a client key is a secret like the password.
    require_safe(path, os.stat(path), what, secret=secret)


# ---------------------------------------------------------------- clouds.yaml (+ secure.yaml beside it)

_CLOUD_AUTH_KEYS = {"auth_url": "OS_AUTH_URL", "tenant_name": "OS_TENANT_NAME", "tenant_id": "OS_TENANT_ID",
                    **{field: key for key, field in _FIELDS_FROM_VARS.items() if key != "OS_REGION_NAME"}}
_CLOUD_KEYS = {"auth_type": "OS_AUTH_TYPE", "region_name": "OS_REGION_NAME", "interface": "OS_INTERFACE",
               "endpoint_type": "OS_ENDPOINT_TYPE", "cacert": "OS_CACERT", "cert": "OS_CERT",
               "key": "OS_KEY", "identity_api_version": "OS_IDENTITY_API_VERSION"}
_CLOUD_SPELLING = {**{key: f"auth.{name}" for name, key in _CLOUD_AUTH_KEYS.items()},
                   **{key: name for name, key in _CLOUD_KEYS.items()}, "OS_INSECURE": "verify"}
_CLOUD_SECRETS = ("password", "application_credential_secret", "token")


def credentials_from_clouds(cloud, config_file=None, search=CLOUDS_SEARCH, named_by=CREDENTIALS):
    """The cloud `cloud` of a clouds.yaml: config_file if given (OS_CLIENT_CONFIG_FILE), else the first
    file of `search` that exists. A secure.yaml beside it is merged over it, as the clients do."""
    if config_file:
        path = config_file
        if not os.path.exists(path):
            raise CredentialsError(f"{named_by}: OS_CLIENT_CONFIG_FILE names {path}, which does not exist",
                                   fix=f"correct OS_CLIENT_CONFIG_FILE in {_where(named_by)}")
    else:
        path = next((p for p in search if os.path.exists(p)), None)
        if path is None:
            raise CredentialsError(
                f"{named_by}: OS_CLOUD is {cloud!r} but there is no clouds.yaml "
                f"(looked for {', '.join(search)})",
                fix=f"put the cloud in {search[0]}, or set OS_CLIENT_CONFIG_FILE in {_where(named_by)}")
    source = f"clouds.yaml {path} cloud {cloud}"
    entry, path_stat = _cloud_entry(path, cloud, required=True)
    require_safe(path, path_stat, "clouds file", secret=_holds_secret(entry))
    secure_path = os.path.join(os.path.dirname(path), "secure.yaml")
    if os.path.exists(secure_path):
        secure, secure_stat = _cloud_entry(secure_path, cloud, required=False)
        require_safe(secure_path, secure_stat, "clouds file", secret=_holds_secret(secure))
        entry = _merged(entry, secure)
    return _from_vars(_cloud_vars(entry, source), source, lambda key: _CLOUD_SPELLING.get(key, key),
                      cloud=cloud, clouds_file=path)


def _load_yaml(text, path):
    try:
        import yaml      # lazily: python3-yaml is needed only by those who use a clouds.yaml
    except ImportError:
        raise CredentialsError(f"reading {path} needs the YAML parser, which is not installed",
                               fix="apt install python3-yaml") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        # PyYAML's own text quotes the offending line, which may hold a secret: give only the position.
        mark = getattr(err, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise CredentialsError(f"{path}{at}: not valid YAML",
                               fix="correct the YAML syntax at that position") from None


def _cloud_entry(path, cloud, required):
    text, file_stat = _read_text(path, "clouds file")
    require_safe(path, file_stat, "clouds file", secret=False)     # before trusting a word of it
    data = _load_yaml(text, path) or {}
    clouds = data.get("clouds") if isinstance(data, dict) else None
    if not isinstance(clouds, dict):
        if not required:
            return {}, file_stat
        raise CredentialsError(f"{path}: no `clouds:` mapping", fix=f"add clouds: {cloud}: ... to {path}")
    entry = clouds.get(cloud)
    if entry is None and not required:
        return {}, file_stat
    if not isinstance(entry, dict):
        names = ", ".join(sorted(map(str, clouds))) or "none"
        raise CredentialsError(f"{path}: no cloud named {cloud!r} (it has: {names})",
                               fix="correct OS_CLOUD, or add that cloud to the file")
    return entry, file_stat


def _holds_secret(entry):
    auth = entry.get("auth") if isinstance(entry.get("auth"), dict) else {}
    return any(auth.get(name) for name in _CLOUD_SECRETS)


def _merged(base, over):
    merged = dict(base)
    for key, value in over.items():
        both_maps = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_maps else value
    return merged


def _cloud_vars(entry, source):
    def fail(message, key):
        raise CredentialsError(f"{source}: {message}", fix=f"correct {key} in that cloud's entry")

    if "profile" in entry:
        fail("vendor profiles are not supported", "profile (write auth.auth_url and region_name instead)")
    auth = entry.get("auth", {})
    if not isinstance(auth, dict):
        fail("auth is not a mapping", "auth")
    variables = {}
    for name, value in auth.items():
        if name not in _CLOUD_AUTH_KEYS:
            fail(f"auth.{name} is not supported", f"auth.{name}")
        variables[_CLOUD_AUTH_KEYS[name]] = _scalar(value, f"auth.{name}", fail)
    for name, key in _CLOUD_KEYS.items():
        if name in entry:
            variables[key] = _scalar(entry[name], name, fail)
    if "region_name" not in entry and entry.get("regions"):
        first = entry["regions"][0] if isinstance(entry["regions"], list) else None
        # The clients also take the first listed region when none is named.
        variables["OS_REGION_NAME"] = _scalar(first.get("name") if isinstance(first, dict) else first,
                                              "regions", fail)
    if "verify" in entry:
        verify = entry["verify"]
        if not isinstance(verify, bool):
            verify = _boolean(verify, lambda: fail("verify must be true or false", "verify"))
        variables["OS_INSECURE"] = "false" if verify else "true"
    return variables


def _scalar(value, name, fail):
    if isinstance(value, (dict, list)):
        fail(f"{name} must be a single value", name)
    return None if value is None else str(value)


# ---------------------------------------------------------------- files, permissions, precedence

def _read_text(path, what):
    """Open first, then check what was opened (fstat), so a swapped file cannot slip between the two."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise CredentialsError(f"{what} {path} does not exist",
                               fix=f"create it: install -m 600 -o root -g root /dev/null {path}, "
                                   "then add the credentials") from None
    except PermissionError:
        raise CredentialsError(f"cannot read {what} {path}: permission denied",
                               fix="run the command as root (sudo)") from None
    except OSError as err:
        raise CredentialsError(f"cannot read {what} {path}: {err.strerror}",
                               fix=f"check {path}") from None
    file_stat = os.fstat(fd)
    if not stat.S_ISREG(file_stat.st_mode):
        os.close(fd)
        raise CredentialsError(f"{what} {path} is not a regular file", fix=f"make {path} a plain file")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8"), file_stat
    except UnicodeDecodeError:
        raise CredentialsError(f"{what} {path} is not UTF-8 text", fix=f"save {path} as UTF-8") from None


def require_private(path, file_stat, what="credentials file", euid=None):
    """A file holding secrets: see require_safe."""
    require_safe(path, file_stat, what, secret=True, euid=euid)


def require_safe(path, file_stat, what, secret, euid=None):
    """Every file the credentials come from must belong to root (or, for a run by hand, to the user
    running it) and be writable by nobody else, secret or not: whoever writes it chooses auth_url
    and verify, and so receives the secret kept in the next file. Only a file without a secret may
    be readable by group or others."""
    euid = os.geteuid() if euid is None else euid
    mode = stat.S_IMODE(file_stat.st_mode)
    bad_mode = mode & (0o066 if secret else 0o022)
    chown, chmod = f"chown root:root {path}", f"chmod 600 {path}"
    if file_stat.st_uid not in ({0} if euid == 0 else {0, euid}):
        raise CredentialsError(
            f"{what} {path} is owned by {_user_name(file_stat.st_uid)}, not root: its owner could point "
            "the hook at another cloud or account", fix=f"{chown} && {chmod}" if bad_mode else chown)
    if bad_mode:
        harm = ("read or change the secrets in it" if secret else
                "change it, and so point the hook at another cloud or turn TLS verification off")
        raise CredentialsError(f"{what} {path} has mode {mode:04o}: group or others can {harm}",
                               fix=chmod)


def _user_name(uid):
    import pwd
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def load_credentials(path=CREDENTIALS, environ=None, use_environment=False, clouds_search=CLOUDS_SEARCH):
    """The credentials to use: the conffile's; the OS_* environment only when the conffile holds none,
    or when use_environment is True (an explicit option). Raises CredentialsNotConfigured when there
    are none at all, CredentialsError for anything wrong."""
    environ = os.environ if environ is None else environ
    from_environment = {k: v for k, v in environ.items() if k.startswith("OS_") and v}
    environment_has_some = "OS_AUTH_URL" in from_environment or "OS_CLOUD" in from_environment
    if use_environment:
        if not environment_has_some:
            raise CredentialsError("asked to use the OS_* environment variables, but neither OS_AUTH_URL "
                                   "nor OS_CLOUD is set", fix=f"source an openrc file first, or drop the "
                                   f"option to use {path}")
        return _from_source(from_environment, "environment", clouds_search)
    text, file_stat = _read_text(path, "credentials file")
    require_private(path, file_stat)
    variables = {k: v for k, v in parse_openrc(text, path).items() if v}
    if variables:
        return _from_source(variables, path, clouds_search)
    if environment_has_some:
        return _from_source(from_environment, "environment", clouds_search)
    raise CredentialsNotConfigured(f"no credentials are configured: {path} holds none and no OS_* "
                                   "variables are set", fix=f"edit {path} (its comments show how)")


def _from_source(variables, source, clouds_search):
    cloud = variables.get("OS_CLOUD")
    if not cloud:
        return credentials_from_vars(variables, source)
    # The conffile is ours, so a mix is a mistake there; a shell's environment often carries extra OS_*.
    extra = sorted(set(variables) - {"OS_CLOUD", "OS_CLIENT_CONFIG_FILE"})
    if extra and source != "environment":
        raise CredentialsError(f"{source}: sets OS_CLOUD and also {', '.join(extra)}",
                               fix=f"in {source}, keep only OS_CLOUD and OS_CLIENT_CONFIG_FILE and put the "
                                   "rest in the cloud's entry in clouds.yaml, or delete OS_CLOUD")
    return credentials_from_clouds(cloud, variables.get("OS_CLIENT_CONFIG_FILE"), clouds_search, source)
