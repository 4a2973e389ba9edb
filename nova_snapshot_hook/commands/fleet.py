"""The `fleet` command: back up many servers of a project from a management host, and report how
fresh their backups are.

    fleet snapshot: credentials -> one session -> select the servers -> a bounded pool of workers,
                    each running snapshot.Snapshotter for one server -> summary, exit status
    fleet status:   credentials -> one session -> select the servers -> one image listing ->
                    the newest backup of each series of each server

One keystoneauth session serves every worker: one token for the whole run (keystoneauth
authenticates under a lock, and again when the token nears its end), one connection pool sized
to the concurrency, and the rate-limit policy of retry.py. The requests are cloud.Cloud's; the
rules (selection, outcomes, freshness) are in rules/fleet_plan.py, the tables in views.py; the
bounded pool of workers is here.
"""

import json
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from .. import views
from ..rules import fleet_plan, freshness
from .options import (DEFAULT_ROTATION, DEFAULT_SERIES, METHOD_HELP, add_backup_options,
                      check_series, checked_backup_options, monitoring, whole)
from ..errors import (EXIT_FAILURE, EXIT_UNKNOWN, AccessRuleRefused, ConfigError, HookError,
                      IdentityError)
from ..log import SUCCESS, log, redactor
from ..text import printable

FLEET_HELP = {
    "series": f"the series of every server, Nova's backup_type (default {DEFAULT_SERIES})",
    "rotation": f"how many backups of the series each server keeps, at least 1 "
                f"(default {DEFAULT_ROTATION})",
    "timeout": "give up on a server after this long, waits included (default: settings, 600)",
    "wait": "a server is done once its disk is captured (default), its image is active, or right "
            "after the request",
    "method": METHOD_HELP,
}
DEFAULT_CONCURRENCY = 4
FLEET_TASK_STATE_EVERY = 5       # poll intervals between a worker's reads of task_state


def _metadata(text):
    import argparse
    try:
        return fleet_plan.parse_metadata(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _age(text):
    import argparse
    try:
        return fleet_plan.parse_age(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"not an age such as 3600, 45m, 26h, 8d or 2w: {text!r}") \
            from None


def _add_selection(parser):
    parser.add_argument("--all", dest="everything", action="store_true",
                        help="every server of the project")
    parser.add_argument("--tag", dest="tags", action="append", default=[], metavar="TAG",
                        help="servers with this Nova server tag (repeat: every tag)")
    parser.add_argument("--metadata", action="append", default=[], type=_metadata,
                        metavar="KEY[=VALUE]",
                        help="servers whose metadata has KEY, with VALUE if given "
                             "(repeat: every one)")


def add_parser(commands):
    cmd = commands.add_parser(
        "fleet", help="back up many servers of the project, or show how fresh their backups are",
        description="Back up every server of the project that matches --all, --tag or "
                    "--metadata, from a management host, with the credentials of the project: "
                    "no server identity is needed. 'fleet snapshot' takes the backups, "
                    "'fleet status' shows the newest backup of each series of each server.")
    actions = cmd.add_subparsers(dest="fleet_command", metavar="ACTION", parser_class=type(cmd))
    actions.required = True

    snap = actions.add_parser(
        "snapshot", help="a backup of every selected server now",
        description="Take a Nova backup image of every selected server now, at most "
                    "--concurrency at a time. Each server has its own series (BACKUP_TYPE) "
                    "and rotation: Nova keeps its newest ROTATION backups of that series. A "
                    "server busy with another task (HTTP 409) and a cloud that asks to slow "
                    "down (HTTP 429, or 413 with Retry-After) are waited out. Ends with a "
                    "summary table; exit status 0 when every server was backed up, 1 when one "
                    "failed, 2 for bad arguments, settings or credentials.")
    add_backup_options(snap, FLEET_HELP, lambda cmd: (
        _add_selection(cmd),
        cmd.add_argument("--concurrency", type=whole, default=DEFAULT_CONCURRENCY, metavar="N",
                         help=f"back up at most N servers at a time, 1 to "
                              f"{fleet_plan.MAX_CONCURRENCY} (default {DEFAULT_CONCURRENCY})")))
    snap.add_argument("--dry-run", action="store_true",
                      help="select the servers and print the requests; send no backup request")
    snap.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    snap.set_defaults(run=run_snapshot, syslog=True)

    status = actions.add_parser(
        "status", help="the newest backup of each series of every selected server",
        description="Show, for every selected server and each series of its backups, the "
                    "newest active backup, its age, the state of the newest image and how many "
                    "active backups are kept. A series is stale with --max-age when it has no "
                    "backup newer than that, failing when its newest image is killed (a failed "
                    "upload). Exit status, as a monitoring plugin: 0 fine, 1 a series is stale, 2 "
                    "a series is failing, 3 the status cannot be read.")
    _add_selection(status)
    status.add_argument("--series", action="append", default=[], metavar="BACKUP_TYPE",
                        help="only this series (repeat for more); a server without it shows it "
                             "with no backup")
    status.add_argument("--max-age", type=_age, metavar="AGE",
                        help="a backup older than AGE is stale: seconds, or with m, h, d or w "
                             "(26h, 8d)")
    status.add_argument("--json", action="store_true", help="print the status as JSON on stdout")
    status.set_defaults(run=run_status)
    monitoring(status)


# -- the edge ---------------------------------------------------------------------------------
def _selection(args):
    selection = fleet_plan.Selection(args.everything, args.tags, args.metadata)
    problem = selection.problem()
    if problem:
        raise ConfigError(problem)
    return selection


def selected_servers(cloud, selection):
    """The servers of the project that match, listed with the filters Nova applies itself."""
    servers = fleet_plan.select(cloud.list_servers(**selection.query()), selection)
    if not servers:
        raise HookError(f"no server matches: {selection.describe()}",
                        fix="check the tag or metadata ('openstack server list --long' shows "
                            "them) and the project of the credentials")
    return servers


# -- fleet snapshot ---------------------------------------------------------------------------
def run_snapshot(ctx, args):
    settings = ctx.settings
    timeout = checked_backup_options(args, settings)
    if not 1 <= args.concurrency <= fleet_plan.MAX_CONCURRENCY:
        raise ConfigError(f"--concurrency {args.concurrency}: give 1 to {fleet_plan.MAX_CONCURRENCY}")
    selection = _selection(args)

    from ..backup.snapshotter import SnapshotRequest
    # Nothing waits on one server's capture, and every worker shares the cloud's API (and its
    # rate limit): look at each capture every poll_interval, not at the apt hook's quick pace,
    # and read Nova's task_state (one GET per worker, while Glance says queued) five times less
    # often: with 16 workers those reads kept a one-worker nova-api busy (bench/fleet_scaling.py).
    request = SnapshotRequest(series=args.series, rotation=args.rotation, wait=args.wait,
                              method=args.method or settings.method, trigger="fleet",
                              poll_interval=settings.poll_interval,
                              capture_step=settings.poll_interval,
                              task_state_every=FLEET_TASK_STATE_EVERY * settings.poll_interval)
    ctx.pool_size, ctx.token_life = args.concurrency, timeout   # one session for every worker
    cloud = ctx.cloud
    servers = selected_servers(cloud, selection)
    if args.dry_run:
        return dry_run(args, servers, request)

    log.info(f"Fleet backup: {len(servers)} server{'s' if len(servers) != 1 else ''} "
             f"({selection.describe()}), series {request.series}, rotation {request.rotation}, "
             f"{min(args.concurrency, len(servers))} at a time.")
    label = ThreadLabel()
    prefix = _LabelFilter(label)
    log.addFilter(prefix)
    # The workers' looks at their images share one Glance listing (image_poll.py), fetched at
    # most every half poll interval: one request where there were `concurrency`.
    from ..cloud.image_poll import SharedImagePoll
    shared = SharedImagePoll(cloud, request.poll_interval / 2)
    started = time.monotonic()
    try:
        outcomes = run_bounded(
            servers, lambda server: backup_one(shared, server, request, timeout, label),
            args.concurrency, on_done=report_one)
    finally:
        log.removeFilter(prefix)
    seconds = time.monotonic() - started
    code = fleet_plan.exit_code(outcomes)
    if args.json:
        print(json.dumps(fleet_plan.summary_dict(outcomes, request.series, request.rotation,
                                            args.concurrency, seconds), indent=1, sort_keys=True))
    else:
        for line in views.fleet_summary_lines(outcomes, seconds):
            print(line, flush=True)
    return code


def backup_one(cloud, server, request, timeout, label):
    """One server through the same Snapshotter as every other backup; never raises."""
    from ..backup.snapshotter import Snapshotter
    server_id, name = server["id"], server.get("name") or ""
    label.set(name or server_id)
    started = time.monotonic()
    outcome = fleet_plan.Outcome(server_id, name)
    try:
        result = Snapshotter(cloud, server_id, request, started + timeout,
                             name or server_id).run()
        outcome.image_id, outcome.image_name = result.image_id, result.name
        outcome.state, outcome.method = result.state, result.method
    except IdentityError:
        outcome.error = "the server no longer exists (deleted during the run?)"
    except HookError as err:
        outcome.error = redactor.mask(str(err))
    except Exception as err:       # a bug of ours: this server fails, the others go on
        log.debug("internal error", exc_info=True)
        outcome.error = redactor.mask(f"internal error: {type(err).__name__}: {err} "
                                      "(please report it; -v shows the details)")
    finally:
        label.set(None)
    outcome.seconds = time.monotonic() - started
    return outcome


def report_one(server, outcome):
    who = f"{outcome.server_name or '-'} ({outcome.server_id})"
    if outcome.failed:
        log.error(f"{who}: {outcome.error}")
    else:
        log.log(SUCCESS, f"{who}: backup image {outcome.image_name} ({outcome.image_id}) "
                         f"{outcome.state} in {outcome.seconds:.1f} s.")


class _LabelFilter:
    """Prefix the lines a worker logs with the name of the server it backs up."""

    def __init__(self, label):
        self.label = label

    def filter(self, record):
        label = self.label.get()
        if label:
            record.msg, record.args = f"{label}: {record.getMessage()}", None
        return True


# -- the bounded pool -------------------------------------------------------------------------
def run_bounded(items, work, concurrency, on_done=None):
    """work(item) for every item, at most `concurrency` at a time, in the items' order of start;
    returns the results in the items' order. `work` must not raise (it turns its failures into
    a result); `on_done(item, result)` is called in the calling thread as each one ends."""
    items = list(items)
    results = [None] * len(items)
    if not items:
        return results
    width = max(1, min(int(concurrency), len(items)))
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="fleet") as pool:
        pending = {}
        queue = iter(enumerate(items))
        try:
            for index, item in queue:
                pending[pool.submit(work, item)] = index
                if len(pending) >= width:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    results[index] = future.result()
                    if on_done:
                        on_done(items[index], results[index])
                    following = next(queue, None)
                    if following is not None:
                        pending[pool.submit(work, following[1])] = following[0]
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return results


class ThreadLabel:
    """A per-thread label (the server a worker backs up), for log lines."""

    def __init__(self):
        self._local = threading.local()

    def set(self, label):
        self._local.label = label

    def get(self):
        return getattr(self._local, "label", None)


def dry_run(args, servers, request):
    from ..backup.snapshotter import planned_call
    calls = [(server, planned_call(server["id"], server.get("name") or server["id"], request,
                                   server))
             for server in servers]
    if args.json:
        print(json.dumps([{"server": server["id"], "name": server.get("name"), **call.as_dict()}
                          for server, call in calls], indent=1, sort_keys=True))
    else:
        for server, call in calls:
            (action, body), = call.body.items()
            print(printable(f"{server.get('name') or '-'} ({server['id']}): POST <compute>"
                            f"{call.path}  {action} name={body['name']}"
                            + (f" backup_type={body['backup_type']} rotation={body['rotation']}"
                               if action == "createBackup" else "")))
        print(f"{len(calls)} server{'s' if len(calls) != 1 else ''} selected; nothing sent "
              "(--dry-run).")
    return 0


# -- fleet status -----------------------------------------------------------------------------
def run_status(ctx, args):
    settings = ctx.settings
    selection = _selection(args)
    for series in args.series:
        check_series(series)
    now = time.time()
    try:
        ctx.token_life = settings.api_timeout * 4
        cloud = ctx.cloud
        servers = selected_servers(cloud, selection)
        images = cloud.list_images(owner=cloud.project_id())
    except HookError as err:
        if err.exit_code != EXIT_FAILURE:       # settings, credentials: UNKNOWN with their own line
            raise
        if isinstance(err, AccessRuleRefused):
            err.for_operator("fleet")
        log.error(f"cannot read the backups: {redactor.mask(str(err))}")
        return EXIT_UNKNOWN
    rows = fleet_plan.freshness(servers, images, now, series=args.series, max_age=args.max_age)
    code = freshness.exit_code(rows)
    if args.json:
        print(json.dumps({"time": int(now), "max_age_seconds": args.max_age, "exit_status": code,
                          "rows": [row.as_dict(now) for row in rows]}, indent=1, sort_keys=True))
    else:
        for line in views.fleet_status_lines(rows, now):
            print(line)
    return code
