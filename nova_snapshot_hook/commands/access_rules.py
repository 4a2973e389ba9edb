"""The `access-rules` command: the Keystone access rules a credential for this server needs, and
the `openstack application credential create` command that makes one (rules/access.py)."""

import datetime
import json
import re
import shlex
import sys

from ..context import say
from ..errors import EXIT_OK, ConfigError
from ..rules import access, volumes
from .options import add_server

VALID_DAYS = 365
USES_WORDS = "snapshot, scheduled, the apt hook, apt-post-invoke, status, check"


def add_parser(commands):
    cmd = commands.add_parser(
        "access-rules", help="print the access rules a restricted credential for this server needs",
        description="Print the application credential access rules that this server's use "
                    f"needs ({USES_WORDS}; --for adds list, prune and restore), built from the "
                    "service catalog's endpoint paths and types, with this server's id in Nova's "
                    "paths, and exactly the requests the tool makes: image deletion only where our "
                    "own rotation runs ([snapshot] method = image, or a server that boots from a "
                    "volume), Cinder only for a volume-backed server, and Keystone's record of the "
                    "credential itself, where check and status read its expiry. The rules go to "
                    "stdout; the notes and the full 'openstack application credential create' "
                    "command, with a suggested name and expiry, to stderr.")
    add_server(cmd)
    cmd.add_argument("--for", dest="uses", metavar="USES", default="",
                     help="also allow these commands, comma-separated: " + ",".join(access.USES))
    cmd.add_argument("--format", choices=("json", "yaml"), default="json",
                     help="the rules as JSON (default) or YAML")
    cmd.set_defaults(run=run)


def parse_uses(text):
    uses = [word.strip() for word in (text or "").split(",") if word.strip()]
    unknown = [word for word in uses if word not in access.USES]
    if unknown:
        raise ConfigError(f"--for {','.join(unknown)}: not one of {','.join(access.USES)}")
    return uses


def situation(cloud, server_id, server, settings):
    """What decides the rules: the catalog, this server (volume-backed or not), the method."""
    volume_backed = volumes.is_volume_backed(server)
    return access.Situation(server_id=server_id, rotation=volume_backed or settings.method == "image",
                            volume_backed=volume_backed, endpoints=cloud.endpoints())


def run(ctx, args):
    uses = parse_uses(args.uses)
    with ctx.bounded(ctx.settings.timeout):
        cloud = ctx.cloud
        server = cloud.get_server(ctx.server_id)
        where = situation(cloud, ctx.server_id, server, ctx.settings)
        project = cloud.whoami()["project"]
    rules = access.rules_for(uses, where)
    say(json.dumps(rules, indent=1) if args.format == "json" else access.to_yaml(rules))
    for line in notes(rules, where, project) + ["", "Make the credential with:",
                                                create_command(rules, server.get("name") or "")]:
        print(line, file=sys.stderr)
    return EXIT_OK


def notes(rules, where, project):
    """What the rules still allow, said plainly: a credential on a VM is stolen with the VM."""
    lines = [f"# {len(rules)} rules for server {where.server_id}. Whoever holds a credential "
             "with them can still:"]
    if any(one["path"].endswith("/action") for one in rules):
        lines.append("# - make this server do ANY server action, not only createBackup: Nova does "
                     "not read the body of /action. That includes rescue (boot it from another "
                     "image with a new root password: its disk is then readable), "
                     "os-getConsoleOutput (the console log), adding or removing security groups "
                     "(opening its ports), reboot, stop, rebuild, resize, lock. This server only.")
    if any(one["method"] == "PATCH" and "/images/" in one["path"] for one in rules):
        lines.append(f"# - change ANY image of project {project}, not only this server's "
                     "backups (Glance's paths cannot name them): its name and properties, its "
                     "protection (so that it can be deleted), and its visibility (shared or "
                     "community: readable by other projects).")
    if any(one["method"] == "DELETE" and "/images/" in one["path"] for one in rules):
        lines.append(f"# - delete ANY unprotected image of project {project}.")
    if any("/snapshots" in one["path"] for one in rules):
        lines.append("# - read, mark and delete ANY volume snapshot of the project.")
    if any("/application_credentials/" in one["path"] for one in rules):
        lines.append("# - read the record of ANY application credential of its user (name, "
                     "expiry, roles, access rules; never a secret), given its id.")
    lines.append("# It cannot act on other servers, make servers, volumes or credentials, or "
                 "touch the network: give it an expiry, and delete it when the server goes.")
    lines.append("# Run the command as the user owning the credential, with a password or an "
                 "unrestricted credential: one with access rules cannot make another.")
    return lines


def create_command(rules, server_name, today=None):
    today = today or datetime.date.today()
    expires = (today + datetime.timedelta(days=VALID_DAYS)).strftime("%Y-%m-%dT00:00:00")
    name = "nova-snapshot-hook-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", server_name).strip("-")
                                    or "server")
    return " ".join(["openstack application credential create", "--access-rules",
                     shlex.quote(json.dumps(rules, separators=(",", ":"))),
                     "--expiration", expires, "--description",
                     shlex.quote("nova-snapshot-hook: backups of this server only"), shlex.quote(name)])
