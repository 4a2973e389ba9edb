"""The scheduled backup for real: the installed package, in a Debian root, against the local cloud.

One run takes one image of the tier due today, in that tier's series; a second run the same day
takes none; both print nothing under --quiet (cron mails any output).
"""

import re

from aptlab import CONF
from cloud_fixtures import read_state, worker_server

PROG = "/usr/sbin/nova-snapshot-hook"
ROOT_NAME = "sched"         # the root fixture (conftest.py): build/roots/sched-<suite>


def configure(root):
    with open(root.file(CONF + "/credentials"), "w", encoding="utf-8") as handle:
        handle.write(read_state("appcred-openrc") + "\n")
    root.write(CONF + "/nova-snapshot-hook.conf",
               f"[server]\nid = {worker_server()}\nmetadata_url =\n"
               "[snapshot]\npoll_interval = 0.3\n"
               "[schedule]\ndaily = 3\nweekly = 3\nmonthly = 3\nyearly = 3\nwait = 120\n")


def test_one_run_one_image_of_todays_tier_then_nothing_more_that_day(root, admin):
    configure(root)
    server = worker_server()
    plan = root.run(PROG, "scheduled", "--dry-run", "--no-delay")
    assert plan.returncode == 0, plan.stderr
    tier = re.search(r"Would take the (\w+) backup", plan.stdout).group(1)
    before = {image["id"] for image in admin.backups(server, tier)}
    made = []
    try:
        first = root.run(PROG, "--quiet", "scheduled", "--no-delay")
        assert (first.returncode, first.stdout, first.stderr) == (0, "", "")
        made = [image for image in admin.backups(server, tier) if image["id"] not in before]
        assert len(made) == 1
        assert made[0]["nsh_trigger"] == "schedule" and made[0]["nsh_series"] == tier
        today = root.run("date", "+%F").stdout.strip()      # the root's local date
        with open(root.file("/var/lib/nova-snapshot-hook/schedule"), encoding="utf-8") as handle:
            assert handle.read() == f"{today} {tier}\n"

        second = root.run(PROG, "--quiet", "scheduled", "--no-delay")
        assert (second.returncode, second.stdout, second.stderr) == (0, "", "")
        assert {image["id"] for image in admin.backups(server, tier)} == before | {made[0]["id"]}
    finally:
        admin.wait_idle(server)
        for image in admin.backups(server, tier):
            if image["id"] not in before:
                admin.glance.delete(f"/v2/images/{image['id']}")
