"""The `check` command: is everything in place for backups, without taking one?

settings -> apt's own configuration (is the hook registered and on?) -> credentials -> a token ->
this server (GET /servers/{id}) -> the credential's access rules and expiry -> permissions (its
instance actions, its images) -> its volumes -> quota (Nova's /limits; Cinder's snapshot quota
for a volume-backed server; Glance's usage where the cloud reports it), each against what the
configured rotations keep at most. One line per check, `OK:`, `WARN:`, `FAIL:` or `SKIP:` (a
check that needs a failed one), on stdout (a check's warning is a WARN line, never a log line);
with --json, one document of them all instead. Exit 0 only when every check passed or warned,
else the highest of the FAILs': 2 for a finding the user must fix (settings, credentials, apt's
configuration, the credential's access rules or near expiry, the guest, the quota), 1 for a
check the cloud kept from being made (it failed, refused or did not answer). Meant to be run
right after `dpkg-reconfigure`.
"""

import dataclasses
import json

from .. import views
from ..cloud.credentials import APPLICATION_CREDENTIAL
from ..context import say
from ..errors import EXIT_OK, EXIT_USAGE, AccessRuleRefused, HookError
from ..rules import access, expiry, inventory, retention, volumes
from ..rules.naming import SERIES_PROPERTY
from . import access_rules, lookup
from .options import add_server
from ..log import redactor
from ..text import human_size, printable

IMAGE_QUOTAS = {"image_count_total": "images", "image_size_total": "image storage (MiB)",
                "image_stage_total": "staging (MiB)", "image_count_uploading": "uploads"}


def add_parser(commands):
    cmd = commands.add_parser(
        "check", help="check settings, credentials, server, permissions and quota; no snapshot",
        description="Check, without taking a snapshot, that backups can work: the settings "
                    "file, apt's configuration as apt reads it (the hook registered with "
                    "stream version 3, not switched off by NovaSnapshotHook::Skip or a later "
                    "file), the credentials, a token from Keystone, this server's identity "
                    "(confirmed with GET /servers/{id}), an application credential's expiry "
                    "(a WARN within 30 days, a FAIL within 7 or once expired), the permission "
                    "to read its instance actions and its images, and the quota where the cloud reports it (Nova's "
                    "limits, Cinder's volume snapshot quota for a volume-backed server, Glance's "
                    "image quota), each compared with what the configured rotations keep at most "
                    "(every series' count, and one new backup at a time, times the newest "
                    "backup's size). The "
                    "volumes check names a volume-backed server's volumes, which every backup "
                    "snapshots in Cinder, and warns about volumes attached to an image-backed "
                    "server, which are not in its images. The quiesce check says whether Nova "
                    "can freeze this VM's file systems for a backup (the image's "
                    "hw_qemu_guest_agent and os_require_quiesce, the agent's virtio port, the "
                    "agent's process) or whether backups are crash-consistent, and what to "
                    "change. One line per check, OK, WARN, FAIL or SKIP; exit status 0 only when "
                    "every check passed or warned, 1 when the cloud failed, refused or did not "
                    "answer a check, 2 when a check found something to fix (the highest "
                    "wins).")
    add_server(cmd)
    cmd.add_argument("--json", action="store_true",
                     help="print the checks and the exit status as one JSON document on stdout")
    cmd.set_defaults(run=run)


class Checks:
    def __init__(self, json_output=False):
        self.status = EXIT_OK
        self.json_output = json_output
        self.found = []         # --json: every line as a record, printed at the end

    def say(self, state, name, text, status=EXIT_USAGE):
        """`status`: what a line neither OK nor WARN makes the exit status, the highest wins: a
        finding is the user's to fix; a raised error brings its own (EXIT_FAILURE: the cloud's)."""
        if state not in ("OK", "WARN"):      # a WARN works, less well than it could
            self.status = max(self.status, status)
        if self.json_output:    # masked before JSON escapes it, where a secret could hide
            self.found.append({"status": state.lower(), "name": name,
                               "text": redactor.mask(text)})
        else:       # one line, masked, the cloud's control characters (a name's) escaped
            print(printable(redactor.mask(f"{state}: {name}: {text}")), flush=True)

    def report(self):
        """`check --json`: the lines in their order, and the exit status they make."""
        return {"checks": self.found, "exit_status": self.status}

    def run(self, name, step, *needs):
        """Run one check; its result (a WARN's too), or None when it failed or a check it
        needs did."""
        if any(need is None for need in needs):
            self.say("SKIP", name, "needs a check above that failed", EXIT_OK)  # that one counts
            return None
        try:
            state, text, value = step(*needs)
        except HookError as err:
            self.say("FAIL", name, str(err), err.exit_code)
            return None
        self.say(state, name, text)
        return value if state in ("OK", "WARN") else None


def run(ctx, args):
    checks = Checks(args.json)
    settings = checks.run("settings", lambda: _settings(ctx.settings))
    if settings and settings.https_proxy:
        checks.run("proxy", _proxy, settings)
    _apt_hook(checks)
    with ctx.bounded(settings.timeout if settings else 600):
        credentials = checks.run("credentials", lambda s: _credentials(ctx), settings)
        for name, text in _exposed(credentials) if credentials else ():
            checks.say("WARN", name, text)
        cloud = checks.run("token", lambda c: _token(ctx), credentials)
        identity = checks.run("server", lambda c: _server(ctx, c), cloud)
        checks.run("access rules", lambda c, i: _access_rules(ctx, c, i), cloud, identity)
        if credentials and credentials.auth_type == APPLICATION_CREDENTIAL:   # a password: none
            checks.run("credential expiry", _optional(_expiry), cloud)
        checks.run("instance actions", _instance_actions, cloud, identity)
        images = checks.run("images", _images, cloud, identity)
        attached = checks.run("volumes", _volumes, cloud, identity)
        checks.run("quiesce", _optional(lambda *a: _quiesce(*a, ctx.settings.identity_root)),
                   cloud, identity)
        checks.run("compute quota", _optional(_compute_quota), cloud)
        if settings:
            kept = retention.most_kept(settings)
            checks.run("storage", lambda *a: _storage(*a, kept), identity, images)
            checks.run("volume quota", _optional(lambda *a: _volume_quota(*a, kept)), cloud,
                       identity, images, attached)
            checks.run("image quota", _optional(lambda *a: _image_quota(*a, kept)), cloud,
                       identity, images)
    if args.json:
        say(json.dumps(checks.report(), indent=1, sort_keys=True))
    return checks.status


def _optional(step):
    """A read the credential's access rules may refuse: said, not a failure."""
    def run(*needs):
        try:
            return step(*needs)
        except AccessRuleRefused as err:
            return "WARN", (f"not allowed by this credential's access rules (no rule "
                            f"{access.describe(err.rule)})"), None
    return run


def _settings(settings):
    import os
    where = settings.path if os.path.exists(settings.path) else f"{settings.path} (absent: defaults)"
    return "OK", f"{where}; server id {settings.server_id or '(detect)'}", settings


def _proxy(settings):
    """The proxy, its password masked; a password in a settings file others can read is theirs."""
    import os
    import stat
    from ..cloud.session import proxy_password, shown_proxy
    text = shown_proxy(settings.https_proxy) + (
        f"; direct to {settings.no_proxy}" if settings.no_proxy else "")
    try:
        mode = stat.S_IMODE(os.stat(settings.path).st_mode)
    except OSError:
        mode = 0
    if proxy_password(settings.https_proxy) and mode & 0o044:
        who = "every local user" if mode & 0o004 else "the file's group"
        return "WARN", (f"{text}: the proxy password in {settings.path} (mode {mode:04o}) is "
                        f"readable by {who}: use a proxy that needs no password (one that lets "
                        f"this VM in by its address), or make the file root-only: chmod 600 "
                        f"{settings.path}"), settings
    return "OK", text, settings


def _exposed(credentials):
    """(name, text) of a WARN line for each way the credentials travel unprotected."""
    from urllib.parse import urlsplit
    secret = "application credential secret" if \
        credentials.auth_type == APPLICATION_CREDENTIAL else "password"
    source = credentials.source
    in_clouds = source.startswith("clouds.yaml ")
    where = "the environment" if source == "environment" else source
    if not credentials.verify:
        key, cacert = ("verify: false", "cacert") if in_clouds else \
            ("OS_INSECURE=true", "OS_CACERT")
        yield "TLS", (f"certificate verification is off ({key} in {where}): anyone between "
                      f"this VM and the cloud can pose as Keystone and take the {secret} and "
                      f"every token; remove it, and set {cacert} to the cloud's CA bundle if its "
                      "certificate is not from a public CA")
    url = urlsplit(credentials.auth_url)
    if url.scheme == "http" and not _loopback(url.hostname):
        key = "auth.auth_url" if in_clouds else "OS_AUTH_URL"
        yield "auth URL", (f"{credentials.auth_url} is plain http://: the {secret} and every "
                           f"token cross the network unencrypted; set {key} in {where} to the "
                           "cloud's https:// Keystone URL")


def _loopback(host):
    """Plain HTTP to this host itself (a local TLS tunnel) never crosses the network."""
    import ipaddress
    if (host or "").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _credentials(ctx):
    credentials = ctx.credentials
    kind = "application credential" if credentials.auth_type == APPLICATION_CREDENTIAL \
        else "password"
    return "OK", f"{credentials.source} ({kind}, {credentials.auth_url})", credentials


def _token(ctx):
    cloud = ctx.fresh_cloud()       # the credentials themselves, not a cached token
    who = cloud.whoami()
    return "OK", (f"user {who['user']} ({who['user_id']}) in project {who['project']} "
                  f"({who['project_id']}), valid until {who['expires']}"), cloud


def _server(ctx, cloud):
    server_id, source = ctx.server
    server = cloud.get_server(server_id)
    return "OK", (f"{server.get('name')} ({server_id}, from {source}): {server.get('status')}"
                  + (", boots from a volume (createImage path)" if not server.get("image") else "")
                  ), (server_id, server)


def _access_rules(ctx, cloud, identity):
    """What the credential can do: its access rules (Keystone puts them in the token) against
    what this server's use needs; a credential without rules can do what its user can."""
    server_id, server = identity
    where = access_rules.situation(cloud, server_id, server, ctx.settings)
    needed = access.rules_for([], where)
    who = cloud.whoami()
    credential = who.get("application_credential")
    granted = (credential or {}).get("access_rules")
    if not granted:
        what = (f"application credential {credential.get('name')} has no access rules"
                if credential else "password credentials are not restricted")
        return "WARN", (f"{what}: whoever is root on this VM can act on every server and image of "
                        f"project {who['project']} ({who['project_id']}). Make a restricted "
                        "credential with: "
                        + access_rules.create_command(needed, server.get("name") or "")), None
    widest = access.rules_for(access.USES, dataclasses.replace(where, rotation=True))
    missing, wide = access.compare(granted, needed, widest)
    optional = access.optional_rules([], where)
    if [one for one in missing if one not in optional]:
        return "FAIL", (f"application credential {credential.get('name')} lacks "
                        f"{len(missing)} rule(s) this server's use needs: "
                        + "; ".join(access.describe(one) for one in missing)
                        + " ('nova-snapshot-hook access-rules' prints them all)"), None
    # Made before the tool read the expiry: it works, but Keystone may refuse that one read
    warnings = ["lacks the rule that lets check and status read its expiry: "
                + "; ".join(access.describe(one) for one in missing)] if missing else []
    if wide:
        warnings.append("rule(s) wider than this server's use needs: "
                        + "; ".join(access.describe(one) for one in wide))
    if warnings:
        return "WARN", (f"application credential {credential.get('name')}: "
                        + "; ".join(warnings)
                        + " ('nova-snapshot-hook access-rules' prints what is needed)"), granted
    return "OK", (f"application credential {credential.get('name')}: {len(granted)} rules, none "
                  "missing, none wider than this server's use"), granted


def _expiry(cloud):
    """When the application credential expires (rules/expiry.py): within 30 days a WARN, within
    7 days a FAIL, the user's to fix before Keystone refuses it. One GET to Keystone."""
    import time
    found = lookup.credential_expiry(cloud, time.time())
    if found is None:
        return "OK", "the token names no application credential", None
    record, judged = found
    state = {expiry.OK: "OK", expiry.WARN: "WARN", expiry.FAIL: "FAIL"}[judged.verdict]
    return state, views.credential_expiry(record, judged, cloud.replace_credential_fix()), judged


def _apt_hook(checks):
    """apt's configuration as apt reads it (python-apt): is the hook registered and on? The
    verdict (the worst finding), then each further finding as a line of its own: a WARN among
    them (no Post-Invoke line) is check's to say on stdout, not a log line on stderr."""
    from ..apt.registration import hook_registration
    result = hook_registration()    # never raises: a missing python3-apt is its SKIP
    for state, text in ((result.state, result.text),) + tuple(result.findings[1:]):
        checks.say(state, "apt hook", text)


def _instance_actions(cloud, identity):
    actions = cloud.instance_actions(identity[0])
    return "OK", f"{len(actions)} readable (the capture check reads them)", actions


def _images(cloud, identity):
    images = lookup.images_of(cloud, identity[0])
    return "OK", (f"{len(images)} image(s) of this server readable; createBackup itself is not "
                  "tried ('snapshot --dry-run' shows its request)"), images


def _volumes(cloud, identity):
    server = identity[1]
    ids = volumes.attached_volume_ids(server)
    if not ids:
        return "OK", "none attached", []
    if not volumes.is_volume_backed(server):
        return "WARN", views.volume_warning(server), []
    found = cloud.volumes(ids)
    described = ", ".join(
        f"{volume.get('id')} ({volume.get('size')} GB"
        + "".join(f", {a.get('device')}" for a in volume.get("attachments") or ()
                  if a.get("server_id") == identity[0]) + ")" for volume in found)
    count, gigabytes = volumes.backup_needs(found)
    return "OK", (f"boots from a volume; {count} attached: {described}; every backup snapshots "
                  f"them all in Cinder ({count} snapshot(s), {gigabytes} GB)"), found


def _quiesce(cloud, identity, root):
    """Will Nova freeze this VM for a backup: the image's properties (a volume-backed server's
    come from its root volume's image metadata), the agent's port, the agent's process."""
    from .. import guest_agent
    from ..rules import quiesce
    server = identity[1]
    if volumes.is_volume_backed(server):
        found = cloud.volumes(volumes.attached_volume_ids(server))
        boot = [v for v in found if str(v.get("bootable")).lower() == "true"] or found
        properties = (boot[0].get("volume_image_metadata") or {}) if boot else {}
    else:
        image_id = (server.get("image") or {}).get("id") or ""
        properties = cloud.get_image(image_id)
        if properties is None:
            return "WARN", (f"the server's image {image_id} no longer exists, so whether Nova "
                            "asks the guest agent to freeze cannot be read; Nova kept what the "
                            "image said when the server was built"), None
    state, text = quiesce.verdict(properties, guest_agent.agent_port(root),
                                  guest_agent.agent_running(root))
    return state, text, properties


def _rotated(images, identity, series):
    """Our active backups in the rotated series: what the rotations' total replaces (pinned and
    by-hand ones stay on top of it)."""
    return [image for image in images if inventory.is_ours(image, identity[0])
            and image.get("status") == "active" and image.get(SERIES_PROPERTY) in series]


def _newest_size(backups):
    """The newest backup's size in bytes (0 without one): what the next one will cost."""
    ours = inventory.newest_first(backups)
    return (ours[0].get("size") or 0) if ours else 0


def _volume_quota(cloud, identity, images, attached, kept):
    if not volumes.is_volume_backed(identity[1]):
        return "OK", "not needed: the server boots from an image", None
    backups, words, series = kept
    limits = cloud.volume_limits()
    count, gigabytes = volumes.backup_needs(attached)
    ours = _rotated(images, identity, series)
    held = (sum(len(volumes.snapshot_ids(image)) for image in ours),
            sum(volumes.snapshot_gigabytes(image) for image in ours))
    parts, over = [], []
    # the rotations hold each series' count, and one new backup at a time (retention.most_kept)
    for row in volumes.quota_rows(limits, (count * backups, gigabytes * backups), held):
        what, _, _, limit, used, mine, need = row
        if limit == volumes.UNLIMITED:
            parts.append(f"{what} {used} of unlimited")
            continue
        parts.append(f"{what} {used} of {limit} in use ({mine} by these backups)")
        if volumes.over(row):
            over.append(f"{what}: the rotations ({words}) hold up to {backups} backups, "
                        f"{need} {what}, which would reach the quota")
    if not parts:
        return "OK", "not reported by this cloud", limits
    if over:
        return "WARN", ", ".join(parts) + "; " + "; ".join(over) + (
            ": lower the rotations or ask for more volume quota"), limits
    return "OK", ", ".join(parts) + f"; the rotations ({words}) fit", limits


def _compute_quota(cloud):
    limits = cloud.compute_limits()
    parts = []
    for used, most, label in (("totalInstancesUsed", "maxTotalInstances", "instances"),
                              ("totalCoresUsed", "maxTotalCores", "cores"),
                              ("totalRAMUsed", "maxTotalRAMSize", "RAM MiB")):
        if most in limits:
            bound = "unlimited" if limits[most] < 0 else limits[most]
            parts.append(f"{label} {limits.get(used, '?')} of {bound}")
    if not parts:
        return "OK", "not reported", limits
    full = limits.get("maxTotalInstances", -1) >= 0 and \
        limits.get("totalInstancesUsed", 0) >= limits["maxTotalInstances"]
    note = " (no room for 'restore --new')" if full else " (what 'restore --new' needs)"
    return "OK", ", ".join(parts) + note, limits


def _storage(identity, images, kept):
    """What the rotations cost at most, projected from the newest backup's size (a
    volume-backed one's snapshots are sized by their volumes: `volumes` says those)."""
    backups, words, series = kept
    size = _newest_size(_rotated(images, identity, series))
    text = f"the rotations keep at most {backups} backups ({words})"
    if not size:
        return "OK", text + "; no backup of ours with a size yet to project their cost from", None
    return "OK", (f"{text}: up to {human_size(backups * size)} at the newest backup's size "
                  f"({human_size(size)}; pinned and by-hand backups come on top)"), None


def _image_quota(cloud, identity, images, kept):
    usage = cloud.image_usage()
    if not usage:
        return "OK", "not reported by this cloud", usage
    backups, words, series = kept
    ours = _rotated(images, identity, series)
    size_mib = _newest_size(ours) / 2 ** 20
    projected = {"image_count_total": backups - len(ours),
                 "image_size_total": backups * size_mib - sum(
                     (image.get("size") or 0) for image in ours) / 2 ** 20}
    parts, full = [], []
    for key, value in sorted(usage.items()):
        label = IMAGE_QUOTAS.get(key, key)
        limit, used = value.get("limit"), value.get("usage")
        bound = "unlimited" if limit is None or limit < 0 else limit
        parts.append(f"{label} {used} of {bound}")
        if key in ("image_count_total", "image_size_total") and isinstance(limit, int) \
                and limit >= 0 and isinstance(used, int) and used >= limit:
            full.append(label)
    if full:
        return "FAIL", (", ".join(parts) + f": {' and '.join(full)} at the limit, so a new backup "
                        "would be refused; delete old images ('prune') or ask for more"), usage
    reached = [IMAGE_QUOTAS[key] for key, more in projected.items()
               if isinstance((usage.get(key) or {}).get("limit"), int)
               and usage[key]["limit"] >= 0
               and (usage[key].get("usage") or 0) + more > usage[key]["limit"]]
    if reached:
        return "WARN", (", ".join(parts) + f"; the rotations ({words}) hold up to {backups} "
                        f"backups of today's size ({size_mib:.0f} MiB): {' and '.join(reached)} "
                        "would reach the quota; lower the rotations or ask for more"), usage
    return "OK", ", ".join(parts) + f"; the rotations ({words}) fit", usage
