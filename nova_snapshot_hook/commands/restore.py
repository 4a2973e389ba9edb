"""The `restore` command: rebuild this server from a backup image, or boot a new one from it.

find the image -> read the server -> refuse what must not be done -> print the plan (and, with
--dry-run, the calls) -> protect the image -> rebuild or create -> wait until the server is back.
"""

import time

from ..context import say
from ..rules import inventory, naming, restore_plan
from ..errors import EXIT_OK, CloudError, ConfigError
from ..text import call_lines, format_time
from . import lookup
from .options import add_server, checked_timeout, number
from ..log import SUCCESS, log
from ..waiting import growing, wait_until

TASK_STATE = restore_plan.TASK_STATE


def add_parser(commands):
    cmd = commands.add_parser(
        "restore", help="rebuild this server from a backup image, or boot a new server from it",
        description="Restore from a backup image (an id or an exact name). --rebuild replaces "
                    "this server's disk with the image: everything written since the backup is "
                    "lost, so it is refused without --yes, and refused for an image of another "
                    "server without --force. --new boots a new server from the image with this "
                    "server's flavor, networks, key, security groups and availability zone, "
                    "unless options say otherwise. Either way the image is first protected in "
                    "Glance, so that no rotation deletes it; the command says how to unprotect "
                    "it.")
    cmd.add_argument("image", metavar="IMAGE", help="the backup image's id or exact name")
    how = cmd.add_mutually_exclusive_group(required=True)
    how.add_argument("--rebuild", action="store_true", help="rebuild this server in place")
    how.add_argument("--new", metavar="NAME", help="boot a new server named NAME from the image")
    cmd.add_argument("--yes", action="store_true",
                     help="confirm the rebuild: everything written since the backup is lost")
    cmd.add_argument("--force", action="store_true",
                     help="rebuild even from an image that does not belong to this server")
    cmd.add_argument("--dry-run", action="store_true",
                     help="print the plan and the calls it would make, change nothing")
    cmd.add_argument("--flavor", metavar="FLAVOR", help="--new: flavor id or name (default: copied)")
    cmd.add_argument("--network", metavar="NET_ID", action="append",
                     help="--new: a network id, repeatable (default: this server's networks)")
    cmd.add_argument("--no-network", action="store_true", help="--new: boot without any network")
    cmd.add_argument("--key-name", metavar="KEY", help="--new: key pair name (default: copied)")
    cmd.add_argument("--security-group", metavar="GROUP", action="append",
                     help="--new: a security group, repeatable (default: copied)")
    cmd.add_argument("--availability-zone", metavar="ZONE",
                     help="--new: availability zone (default: copied)")
    cmd.add_argument("--timeout", type=number, metavar="SECONDS",
                     help="give up waiting after this long (default: settings, 600)")
    cmd.add_argument("--no-wait", action="store_true",
                     help="return once the request is accepted, without waiting for the server")
    add_server(cmd)
    cmd.set_defaults(run=run, syslog=lambda args: not args.dry_run)


def run(ctx, args):
    settings = ctx.settings
    new_only = ("flavor", "network", "no_network", "key_name", "security_group",
                "availability_zone")
    if args.rebuild and any(getattr(args, name) for name in new_only):
        raise ConfigError("--flavor, --network, --no-network, --key-name, --security-group and "
                          "--availability-zone go only with --new")
    if args.network and args.no_network:
        raise ConfigError("--network and --no-network exclude each other")
    if args.new is not None and not args.new.strip():
        raise ConfigError("--new needs a server name")
    timeout = checked_timeout(args.timeout, settings)

    with ctx.bounded(timeout) as deadline:
        image = lookup.find_image(ctx, args.image)
        server = ctx.cloud.get_server(ctx.server_id)
        if args.rebuild:
            return rebuild(ctx, args, server, image, deadline)
        return boot_new(ctx, args, server, image, deadline)


def rebuild(ctx, args, server, image, deadline):
    for line in restore_plan.rebuild_explanation(server, image, time.time()):
        say(line)
    problems = restore_plan.rebuild_refusals(server, image, ctx.server_id, args.force)
    if problems:
        raise ConfigError("refusing to rebuild: " + "; ".join(problems))
    calls = protect_calls(image) + [restore_plan.rebuild_call(ctx.server_id, image["id"])]
    if args.dry_run:
        return show_calls(calls)
    if not args.yes:
        raise ConfigError("refusing to rebuild without --yes",
                          fix="read the lines above, then add --yes to confirm")
    log.info(f"Rebuilding server {server.get('name')} ({ctx.server_id}) from {image['id']}.")
    execute(ctx, image, calls)
    if args.no_wait:
        log.log(SUCCESS, f"Rebuild of server {ctx.server_id} from {image['id']} accepted.")
        return EXIT_OK
    done = wait_for_server(ctx.cloud, ctx.server_id, deadline, image_id=image["id"])
    log.log(SUCCESS, f"Server {done.get('name')} ({ctx.server_id}) rebuilt from "
                     f"{image.get('name')} ({image['id']}): {done.get('status')}.")
    return EXIT_OK


def boot_new(ctx, args, server, image, deadline):
    problems = restore_plan.new_server_refusals(image, lookup.volume_snapshots(ctx, [image]))
    if problems:
        raise ConfigError("refusing to boot a server: " + "; ".join(problems))
    interfaces = [] if (args.network or args.no_network) else \
        ctx.cloud.server_interfaces(ctx.server_id)
    flavor = ctx.cloud.flavor_id(args.flavor) if args.flavor else None
    body, notes = restore_plan.new_server_body(
        args.new, server, image["id"], interfaces, flavor=flavor, networks=args.network,
        no_network=args.no_network, key_name=args.key_name, security_groups=args.security_group,
        availability_zone=args.availability_zone)
    say(f"Boot a new server {args.new} from backup image {image.get('name')} ({image['id']}), "
          f"created {format_time(inventory.parse_time(image.get('created_at')))} UTC:")
    for note in notes:
        say(f"- {note}")
    calls = protect_calls(image) + [restore_plan.create_call(body)]
    if args.dry_run:
        return show_calls(calls)
    new_id = naming.answered_id(execute(ctx, image, calls).get("server"), "id", "server id",
                                f"creating server {args.new}",
                                fix=f"look for it with 'openstack server show {args.new}'")
    log.info(f"Server {args.new} ({new_id}) requested.")
    after_new_server_hints(ctx, new_id)
    if args.no_wait:
        log.log(SUCCESS, f"Server {args.new} ({new_id}) requested from {image['id']}.")
        return EXIT_OK
    done = wait_for_server(ctx.cloud, new_id, deadline)
    addresses = ", ".join(f"{net}: {' '.join(a.get('addr', '?') for a in addrs)}"
                          for net, addrs in (done.get("addresses") or {}).items()) or "none"
    log.log(SUCCESS, f"Server {args.new} ({new_id}) is {done.get('status')}, booted from "
                     f"{image.get('name')} ({image['id']}); addresses: {addresses}.")
    return EXIT_OK


def protect_calls(image):
    return [] if image.get("protected") else [restore_plan.protect_call(image["id"])]


def execute(ctx, image, calls):
    """Send the plan a dry run prints, call by call; the last call's answer. The protection
    comes first: a failure after it leaves the image protected, which is what the user wants
    of an image they restore from."""
    hint = restore_plan.unprotect_hint(image["id"])
    if image.get("protected"):
        log.info(f"Image {image['id']} is already protected; to let rotation delete it again: "
                 f"{hint}")
    answer = {}
    for call in calls:
        answer, _ = ctx.cloud.execute(call)
        if call == restore_plan.protect_call(image["id"]):
            log.info(f"Image {image['id']} is now protected: no rotation or prune deletes it. "
                     f"When it is no longer needed: {hint}")
    return answer


def show_calls(calls):
    say("Dry run: these calls would be made (nothing was changed):")
    for line in call_lines(calls):
        say(line)
    return EXIT_OK


def after_new_server_hints(ctx, new_id):
    settings = ctx.settings
    if settings.server_id and settings.server_id == ctx.server_id:
        log.warning(f"The new server starts with this server's settings, which name this server "
                    f"in [server] id: until that is set to {new_id} (or emptied) in "
                    f"{settings.path} on the new server, it refuses to take backups.")
    log.info("The new server has a new id: its backups form new series. Move a floating IP to it "
             "if clients must find it at the old address.")


def wait_for_server(cloud, server_id, deadline, image_id=None, clock=time.monotonic,
                    sleep=time.sleep):
    """Poll until the server is settled (no task) and ACTIVE, SHUTOFF or ERROR, running the
    image when one is named; ERROR is a failure. Looks at once, then after 0.5 s, slowing down to
    every 5 s; the last look is at the deadline."""
    last = {"status": "unknown", TASK_STATE: "unknown"}      # the server as last read

    def settled():
        nonlocal last
        last = cloud.get_server(server_id)
        idle = last.get(TASK_STATE) is None and last.get("status") in (
            "ACTIVE", "SHUTOFF", "ERROR")
        on_image = image_id is None or (last.get("image") or {}).get("id") == image_id
        return last if idle and on_image else None

    server = wait_until(settled, deadline, growing(0.5, 5.0), clock=clock, sleep=sleep)
    if server is None:
        raise CloudError(f"server {server_id} is still {last.get('status')} "
                         f"(task_state {last.get(TASK_STATE)}) at the deadline",
                         fix="follow it with 'openstack server show', or raise --timeout")
    if server.get("status") == "ERROR":
        fault = (server.get("fault") or {}).get("message") or "no message"
        raise CloudError(f"server {server_id} went to ERROR: {fault}",
                         fix="see 'openstack server show' and the cloud's logs")
    return server
